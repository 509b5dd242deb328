using System.Diagnostics;
using System.Text;
using ManimCloud.Delivery;
using ManimCloud.Domain;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// Signed playback (SPEC R5, "Playback URLs"): links are signed exactly as CloudFront verifies them — checked here by an
/// independent implementation (openssl, and this test's own parsing and policy JSON) — and the verifier the local
/// service uses refuses expired, tampered, foreign and unsigned requests.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PlaybackSigningTests : IDisposable
{
    private readonly TempDir _dir = new();
    private const string Base = "https://d111111abcdef8.cloudfront.net";
    private static readonly string Folder = Base + "/transcoded/proj-a/0b7d4c5e-1f2a-4b3c-8d9e-0123456789ab/";

    public void Dispose() => _dir.Dispose();

    /// <summary>A key made by openssl (not by the code under test), private to its owner.</summary>
    private string OpensslKey(string name = "key.pem")
    {
        var path = _dir.File(name);
        Run("openssl", "genrsa", "-out", path, "2048");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Run("openssl", "rsa", "-in", path, "-pubout", "-out", path + ".pub");
        return path;
    }

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {stderr}");
        return stdout.Result;
    }

    /// <summary>The policy statement as CloudFront's documentation writes it (no whitespace), built by the test itself.</summary>
    private static string Statement(string resource, long epoch) =>
        "{\"Statement\":[{\"Resource\":\"" + resource + "\",\"Condition\":{\"DateLessThan\":{\"AWS:EpochTime\":" + epoch + "}}}]}";

    /// <summary>The test's own reading of CloudFront's base64 (- for +, _ for =, ~ for /).</summary>
    private static byte[] Unbase64(string text) => Convert.FromBase64String(text.Replace('-', '+').Replace('_', '=').Replace('~', '/'));

    private static Dictionary<string, string> QueryOf(string url) =>
        new Uri(url).Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    private bool OpensslVerifies(string publicKeyPath, byte[] data, byte[] signature)
    {
        var dataPath = _dir.File($"data-{Guid.NewGuid():N}");
        var sigPath = dataPath + ".sig";
        File.WriteAllBytes(dataPath, data);
        File.WriteAllBytes(sigPath, signature);
        var psi = new ProcessStartInfo("openssl", ["dgst", "-sha1", "-verify", publicKeyPath, "-signature", sigPath, dataPath])
            { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 && output.Contains("Verified OK");
    }

    [Fact]
    public void A_custom_policy_url_verifies_with_openssl_and_its_policy_is_the_one_cloudfront_expects()
    {
        var keyPath = OpensslKey();
        using var key = PlaybackKey.Load(keyPath, "K2JCJMDEHXQW5F");
        var expires = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000);
        var grant = new PlaybackSigner(key).Sign(PlaybackSigner.FolderPolicy(Folder, expires));
        var url = grant.Apply(Folder + "v2/hls/master.m3u8");

        var query = QueryOf(url);
        Assert.Equal(["Policy", "Signature", "Key-Pair-Id"], query.Keys);
        Assert.Equal("K2JCJMDEHXQW5F", query["Key-Pair-Id"]);
        Assert.DoesNotMatch("[+/=]", query["Policy"] + query["Signature"]);
        var policy = Unbase64(query["Policy"]);
        Assert.Equal(Statement(Folder + "*", 1900000000), Encoding.UTF8.GetString(policy));
        Assert.True(OpensslVerifies(keyPath + ".pub", policy, Unbase64(query["Signature"])), "openssl did not verify the signature");

        // Tampered (a later expiry, re-encoded): openssl refuses it too.
        var longer = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(policy).Replace("1900000000", "1990000000"));
        Assert.False(OpensslVerifies(keyPath + ".pub", longer, Unbase64(query["Signature"])));
    }

    [Fact]
    public void A_canned_url_signs_the_statement_cloudfront_rebuilds_from_the_url()
    {
        var keyPath = OpensslKey();
        using var key = PlaybackKey.Load(keyPath, "KCANNED1");
        var target = Folder + "v1/poster.jpg";
        var url = new PlaybackSigner(key).SignCanned(target, DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var query = QueryOf(url);
        Assert.Equal(["Expires", "Signature", "Key-Pair-Id"], query.Keys);
        var statement = Statement(target, 1800000000);
        Assert.True(OpensslVerifies(keyPath + ".pub", Encoding.UTF8.GetBytes(statement), Unbase64(query["Signature"])));
        var verifier = new PlaybackVerifier(new PlaybackKeyGroup().Add(key));
        Assert.True(verifier.Verify(new Uri(url), null, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)).Allowed);
        Assert.Equal(PlaybackOutcome.BadSignature,
            verifier.Verify(new Uri(url.Replace("poster.jpg", "storyboard.jpg")), null, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)).Outcome);
    }

    [Fact]
    public void A_url_signed_by_openssl_is_accepted_by_the_verifier()
    {
        var keyPath = OpensslKey();
        var policy = Statement(Folder + "*", 1900000000);
        var policyPath = _dir.File("policy.json");
        File.WriteAllText(policyPath, policy);
        Run("openssl", "dgst", "-sha1", "-sign", keyPath, "-out", policyPath + ".sig", policyPath);
        string Cf(byte[] b) => Convert.ToBase64String(b).Replace('+', '-').Replace('=', '_').Replace('/', '~');
        var url = $"{Folder}v1/720p/segment_00003.m4s?Policy={Cf(Encoding.UTF8.GetBytes(policy))}&Signature={Cf(File.ReadAllBytes(policyPath + ".sig"))}&Key-Pair-Id=KOPENSSL";
        var group = new PlaybackKeyGroup().Add("KOPENSSL", PlaybackKey.PublicKeyFromPem(File.ReadAllText(keyPath + ".pub")));
        var verdict = new PlaybackVerifier(group).Verify(new Uri(url), null, DateTimeOffset.FromUnixTimeSeconds(1_899_999_000));
        Assert.True(verdict.Allowed, verdict.Message);
    }

    [Fact]
    public void Expired_tampered_foreign_unsigned_and_uncovered_requests_are_refused()
    {
        using var key = PlaybackKey.Load(OpensslKey(), "KMAIN");
        using var other = PlaybackKey.Load(OpensslKey("other.pem"), "KOTHER");
        var now = DateTimeOffset.UtcNow;
        var grant = new PlaybackSigner(key).Sign(PlaybackSigner.FolderPolicy(Folder, now.AddHours(1)));
        var verifier = new PlaybackVerifier(new PlaybackKeyGroup().Add(key));
        var segment = Folder + "v1/1080p/segment_00001.m4s";
        PlaybackOutcome Check(string url, DateTimeOffset? at = null) => verifier.Verify(new Uri(url), null, at ?? now).Outcome;

        Assert.Equal(PlaybackOutcome.Allowed, Check(grant.Apply(segment)));
        // An earlier version's segment: the grant covers the whole video folder.
        Assert.Equal(PlaybackOutcome.Allowed, Check(grant.Apply(Folder + "v0/1080p/segment_00001.m4s")));
        Assert.Equal(PlaybackOutcome.Expired, Check(grant.Apply(segment), now.AddHours(2)));
        Assert.Equal(PlaybackOutcome.Missing, Check(segment));
        Assert.Equal(PlaybackOutcome.NotCovered, Check(grant.Apply(Base + "/transcoded/proj-a/another-video/v1/1080p/segment_00001.m4s")));
        Assert.Equal(PlaybackOutcome.NotCovered, Check(grant.Apply(Base + "/videos/proj-a/x/v1/full.mp4")));

        // The policy rewritten to last longer: the signature no longer matches.
        var longer = Encoding.UTF8.GetString(Unbase64(grant.EncodedPolicy)).Replace(now.AddHours(1).ToUnixTimeSeconds().ToString(), now.AddDays(30).ToUnixTimeSeconds().ToString());
        var forged = grant with { EncodedPolicy = CloudFrontBase64.Encode(Encoding.UTF8.GetBytes(longer)) };
        Assert.Equal(PlaybackOutcome.BadSignature, Check(forged.Apply(segment)));
        var flipped = grant.Signature[..10] + (grant.Signature[10] == 'A' ? 'B' : 'A') + grant.Signature[11..];
        Assert.Equal(PlaybackOutcome.BadSignature, Check((grant with { Signature = flipped }).Apply(segment)));
        // Signed by a key outside the group, or claiming a key id the group does not hold.
        var foreign = new PlaybackSigner(other).Sign(PlaybackSigner.FolderPolicy(Folder, now.AddHours(1)));
        Assert.Equal(PlaybackOutcome.UnknownKeyPair, Check(foreign.Apply(segment)));
        Assert.Equal(PlaybackOutcome.BadSignature, Check((foreign with { KeyPairId = "KMAIN" }).Apply(segment)));
        Assert.Equal(PlaybackOutcome.Malformed, Check(segment + "?Signature=abc&Key-Pair-Id=KMAIN"));
        var verdict = verifier.Verify(new Uri(grant.Apply(segment)), null, now.AddHours(2));
        Assert.Contains("expired", verdict.Message);
    }

    [Fact]
    public void Signed_cookies_authorise_requests_and_tampered_cookies_do_not()
    {
        using var key = PlaybackKey.Load(OpensslKey(), "KCOOKIE");
        var now = DateTimeOffset.UtcNow;
        var grant = new PlaybackSigner(key).Sign(PlaybackSigner.FolderPolicy(Folder, now.AddMinutes(10)));
        var verifier = new PlaybackVerifier(new PlaybackKeyGroup().Add(key));
        var segment = new Uri(Folder + "v1/480p/init.mp4");
        var allowed = verifier.Verify(segment, grant.Cookies, now);
        Assert.True(allowed.Allowed);
        Assert.Equal(GrantSource.Cookies, allowed.Source);
        Assert.Null(allowed.GrantQuery); // cookies travel by themselves: a manifest needs no rewriting
        var tampered = new Dictionary<string, string>(grant.Cookies) { ["CloudFront-Policy"] = CloudFrontBase64.Encode(Encoding.UTF8.GetBytes(
            Encoding.UTF8.GetString(Unbase64(grant.EncodedPolicy)).Replace(Folder, Base + "/transcoded/"))) };
        Assert.Equal(PlaybackOutcome.BadSignature, verifier.Verify(segment, tampered, now).Outcome);
        Assert.Equal(PlaybackOutcome.Expired, verifier.Verify(segment, grant.Cookies, now.AddMinutes(11)).Outcome);
        // A bad query does not hide good cookies (query OR cookies).
        Assert.True(verifier.Verify(new Uri(segment + "?Policy=x&Signature=y&Key-Pair-Id=KCOOKIE"), grant.Cookies, now).Allowed);
        var headers = grant.SetCookieHeaders(null, "/transcoded/proj-a/", secure: true);
        Assert.All(headers, h => Assert.Contains("; Path=/transcoded/proj-a/; Expires=", h));
        Assert.All(headers, h => Assert.Contains("Secure; SameSite=None", h));
    }

    [Fact]
    public void An_ip_condition_admits_only_its_range()
    {
        using var key = PlaybackKey.Load(OpensslKey(), "KIP");
        var now = DateTimeOffset.UtcNow;
        var grant = new PlaybackSigner(key).Sign(PlaybackSigner.FolderPolicy(Folder, now.AddMinutes(10), "127.0.0.0/8"));
        Assert.Contains("\"IpAddress\":{\"AWS:SourceIp\":\"127.0.0.0/8\"}", Encoding.UTF8.GetString(Unbase64(grant.EncodedPolicy)));
        var verifier = new PlaybackVerifier(new PlaybackKeyGroup().Add(key));
        var url = new Uri(grant.Apply(Folder + "v1/poster.jpg"));
        Assert.True(verifier.Verify(url, null, now, System.Net.IPAddress.Parse("127.0.0.1")).Allowed);
        Assert.True(verifier.Verify(url, null, now, System.Net.IPAddress.Parse("::ffff:127.0.0.9")).Allowed);
        Assert.Equal(PlaybackOutcome.IpNotAllowed, verifier.Verify(url, null, now, System.Net.IPAddress.Parse("192.0.2.1")).Outcome);
    }

    [Fact]
    public void A_rotated_key_group_accepts_links_signed_with_either_key()
    {
        using var old = PlaybackKey.Load(OpensslKey(), "KOLD");
        using var current = PlaybackKey.Load(OpensslKey("new.pem"), "KNEW");
        var now = DateTimeOffset.UtcNow;
        var verifier = new PlaybackVerifier(new PlaybackKeyGroup().Add(old).Add(current));
        foreach (var key in new[] { old, current })
        {
            var url = new PlaybackSigner(key).Sign(PlaybackSigner.FolderPolicy(Folder, now.AddMinutes(5))).Apply(Folder + "v3/dash/manifest.mpd");
            Assert.True(verifier.Verify(new Uri(url), null, now).Allowed);
        }
    }

    [Fact]
    public void A_key_file_others_can_read_is_refused_and_the_message_holds_no_key_material()
    {
        var path = OpensslKey();
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var e = Assert.Throws<ManimCloudException>(() => PlaybackKey.Load(path, "K1"));
        Assert.Equal(ErrorKind.Auth, e.Kind);
        Assert.Contains("chmod 600", e.Hint);
        Assert.DoesNotContain("PRIVATE KEY", e.Message + e.Hint);
        File.WriteAllText(_dir.File("junk.pem"), "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
        File.SetUnixFileMode(_dir.File("junk.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var junk = Assert.Throws<ManimCloudException>(() => PlaybackKey.Load(_dir.File("junk.pem"), "K1"));
        Assert.DoesNotContain("not a key", junk.Message + junk.Hint);
    }

    [Fact]
    public void The_workspace_key_is_made_once_private_to_its_owner_and_reused()
    {
        using var first = PlaybackKey.LoadOrCreateWorkspaceKey(_dir.Path);
        var mode = File.GetUnixFileMode(first.Path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        using var second = PlaybackKey.LoadOrCreateWorkspaceKey(_dir.Path);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(first.PublicKeyPem(), second.PublicKeyPem());
        Assert.StartsWith("MC", first.Id);
    }

    [Fact]
    public void Every_uri_in_signed_manifests_carries_the_grant_and_verifies()
    {
        using var key = PlaybackKey.Load(OpensslKey(), "KMANIFEST");
        var now = DateTimeOffset.UtcNow;
        var grant = new PlaybackSigner(key).Sign(PlaybackSigner.FolderPolicy(Folder, now.AddMinutes(10)));
        var verifier = new PlaybackVerifier(new PlaybackKeyGroup().Add(key));
        var master = """
            #EXTM3U
            #EXT-X-VERSION:7
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="en",URI="audio/index.m3u8"
            #EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,AUDIO="aac"
            1080p/index.m3u8
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="1080p/iframes.m3u8"
            ../../v1/720p/index.m3u8
            https://elsewhere.example/x.m3u8
            """;
        var media = "#EXTM3U\r\n#EXT-X-MAP:URI=\"../../v1/1080p/init.mp4\"\r\n#EXTINF:2.0,\r\n../../v1/1080p/segment_00001.m4s\r\n#EXT-X-ENDLIST\r\n";
        var mpd = """
            <?xml version="1.0" encoding="utf-8"?>
            <MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period><AdaptationSet>
            <Representation id="1080p" bandwidth="5000000"><SegmentTemplate initialization="../1080p/init.mp4" media="../1080p/segment_$Number%05d$.m4s" startNumber="1"/></Representation>
            <Representation id="480p" bandwidth="900000"><BaseURL>../../v1/480p/</BaseURL><SegmentList><Initialization sourceURL="init.mp4"/><SegmentURL media="segment_00001.m4s"/></SegmentList></Representation>
            </AdaptationSet></Period></MPD>
            """;
        var signedMaster = ManifestSigning.RewriteHls(master, grant.Query);
        var signedMedia = ManifestSigning.RewriteHls(media, grant.Query);
        var signedMpd = ManifestSigning.RewriteDash(mpd, grant.Query);
        Assert.Contains("https://elsewhere.example/x.m3u8\n", signedMaster + "\n"); // another host never gets the grant
        Assert.EndsWith("\r\n", signedMedia);
        Assert.Contains("<?xml", signedMpd);
        Assert.Contains("&amp;Signature=", signedMpd);

        var masterUrl = new Uri(Folder + "v2/hls/master.m3u8");
        var uris = signedMaster.Split('\n').Where(l => l.Length > 0 && l[0] != '#' && !l.StartsWith("https://elsewhere", StringComparison.Ordinal))
            .Concat(System.Text.RegularExpressions.Regex.Matches(signedMaster, "URI=\"([^\"]+)\"").Select(m => m.Groups[1].Value)).ToList();
        Assert.Equal(4, uris.Count);
        var mediaUrl = new Uri(Folder + "v2/hls/1080p/index.m3u8");
        var mediaUris = signedMedia.Split("\r\n").Where(l => l.Length > 0 && l[0] != '#')
            .Concat(System.Text.RegularExpressions.Regex.Matches(signedMedia, "URI=\"([^\"]+)\"").Select(m => m.Groups[1].Value)).ToList();
        Assert.Equal(2, mediaUris.Count);
        var doc = System.Xml.Linq.XDocument.Parse(signedMpd);
        var mpdUrl = new Uri(Folder + "v2/dash/manifest.mpd");
        var dashUris = doc.Descendants().SelectMany(e => e.Attributes().Where(a => a.Name.LocalName is "media" or "initialization" or "sourceURL"))
            .Select(a => a.Value.Replace("$Number%05d$", "00001")).ToList();
        Assert.Equal(4, dashUris.Count);
        var baseUrl = new Uri(mpdUrl, doc.Descendants().Single(e => e.Name.LocalName == "BaseURL").Value);
        foreach (var resolved in uris.Select(u => new Uri(masterUrl, u)).Concat(mediaUris.Select(u => new Uri(mediaUrl, u)))
                     .Concat(dashUris.Take(2).Select(u => new Uri(mpdUrl, u))).Concat(dashUris.Skip(2).Select(u => new Uri(baseUrl, u))))
        {
            var verdict = verifier.Verify(resolved, null, now);
            Assert.True(verdict.Allowed, $"{resolved}: {verdict.Message}");
        }
    }
}
