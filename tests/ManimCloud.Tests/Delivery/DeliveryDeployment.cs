using System.Security.Cryptography;
using ManimCloud.Delivery;
using ManimCloud.Domain;
using ManimCloud.Provisioning;
using ManimCloud.Rendering;
using ManimCloud.Tests.Support;
using ManimCloud.Workspace;

namespace ManimCloud.Tests.Delivery;

/// <summary>
/// A private deployment on the suite's moto with delivery provisioned by ManimCloud itself (`delivery provision`: the
/// distribution, its key group and the bucket statement), for the invalidation and statistics tests.
/// </summary>
public sealed class DeliveryDeployment : IDisposable
{
    public required TestCloud Cloud { get; init; }
    public required TempDir Home { get; init; }
    public required string KeyPath { get; init; }
    public required string DistributionId { get; init; }
    public required string Domain { get; init; }
    public required string KeyPairId { get; init; }

    public static async Task<DeliveryDeployment> CreateAsync()
    {
        var cloud = await TestCloud.CreateAsync();
        var home = new TempDir();
        var keyPath = home.File("cdn.pem");
        using (var rsa = RSA.Create(2048)) await File.WriteAllTextAsync(keyPath, rsa.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var options = cloud.Options(home.Path) with { RetryBudget = TimeSpan.FromSeconds(2), Delivery = new DeliveryOptions { Enabled = true, PrivateKeyPath = keyPath } };
        using (var aws = new global::ManimCloud.Aws.AwsClients(options))
        using (var p = new Provisioner(options, aws) { DeliveryOnly = true })
            await p.ApplyAsync();
        return new DeliveryDeployment
        {
            Cloud = cloud, Home = home, KeyPath = keyPath,
            DistributionId = ManimCloudOptions.ConfigFileValue(home.Path, "distribution_id")!,
            Domain = ManimCloudOptions.ConfigFileValue(home.Path, "cdn_domain")!,
            KeyPairId = ManimCloudOptions.ConfigFileValue(home.Path, "cdn_key_pair_id")!,
        };
    }

    /// <summary>Options of a workspace at <paramref name="home"/> (default: the provisioning one) on this deployment.</summary>
    public ManimCloudOptions Options(string? home = null) => Cloud.Options(home ?? Home.Path) with
    {
        RetryBudget = TimeSpan.FromSeconds(2),
        Delivery = new DeliveryOptions { Enabled = true, PrivateKeyPath = KeyPath, DistributionId = DistributionId, Domain = Domain, KeyPairId = KeyPairId },
    };

    /// <summary>Environment of a CLI child process on this deployment (the workspace's config.json names the distribution).</summary>
    public Dictionary<string, string> Environment(string? home = null)
    {
        var env = Cloud.Environment(home ?? Home.Path);
        env["MANIMCLOUD_CDN_PRIVATE_KEY"] = KeyPath;
        if (home is not null)
        {
            env["MANIMCLOUD_DISTRIBUTION_ID"] = DistributionId;
            env["MANIMCLOUD_CDN_DOMAIN"] = Domain;
            env["MANIMCLOUD_CDN_KEY_PAIR_ID"] = KeyPairId;
        }
        return env;
    }

    /// <summary>A video with two scene clips (one with sound), transcoded locally and published to S3: version 1.</summary>
    public static async Task<VideoRecord> PublishAsync(ManimCloudClient client, string project, TempDir dir)
    {
        var video = (await client.CreateVideoAsync(ProjectId.Parse(project), "cdn", null, null, default)).Value;
        var render = new TestRenderer();
        for (var s = 1; s <= 2; s++)
        {
            var clip = dir.File($"{video.Id}-s{s}.mp4");
            await render.RenderClipAsync(clip, s, 1.0 + s / 2.0, default, "426x240", 30, audio: s == 1);
            await client.PutMediaAsync(video.Id, MediaSlot.ForScene(s), clip, default);
        }
        var r = await client.Streaming.TranscodeAsync(video.Id, null, "local", null, default);
        Assert.True(r.Synced, r.PendingReason);
        return r.Video;
    }

    /// <summary>The distribution's invalidations as the AWS CLI (an independent client) lists them.</summary>
    public async Task<List<string>> InvalidationIdsAsync()
    {
        var r = await AwsCli.RunAsync("cloudfront", "list-invalidations", "--distribution-id", DistributionId);
        Assert.True(r.ExitCode == 0, r.Stderr);
        // The CLI prints nothing at all for an empty list.
        if (r.Stdout.Trim().Length == 0) return [];
        return r.Json["InvalidationList"]?["Items"]?.AsArray().Select(i => (string)i!["Id"]!).ToList() ?? [];
    }

    public void Dispose() => Home.Dispose();
}
