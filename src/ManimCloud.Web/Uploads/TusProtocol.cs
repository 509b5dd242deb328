using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ManimCloud.Domain;
using ManimCloud.Web.Access;
using ManimCloud.Web.Api;
using ManimCloud.Web.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace ManimCloud.Web.Uploads;

/// <summary>
/// The tus 1.0.0 resumable upload protocol at /api/v1/uploads/ (core, creation, termination, checksum, expiration).
/// Metadata names the target: <c>video</c> (the id) and <c>slot</c> (<c>full</c> or <c>scene_001</c>). When the last
/// byte arrives, the file is stored exactly as `video put` stores it (<see cref="ManimCloudClient.PutMediaAsync(VideoId, MediaSlot, string, CancellationToken)"/>:
/// the same MP4 validation, workspace blob, outbox and cloud upload), and the upload's bytes are removed.
/// </summary>
public static class TusProtocol
{
    public const string Version = "1.0.0";
    public const string Extensions = "creation,termination,checksum,expiration";
    public const string ChecksumAlgorithms = "sha1,sha256,md5";
    public const string OffsetContentType = "application/offset+octet-stream";
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Writing = new();

    public static void Map(IEndpointRouteBuilder api)
    {
        var uploads = api.MapGroup("/uploads").WithTags("uploads");
        uploads.MapMethods("/", ["OPTIONS"], Options)
            .WithSummary("tus discovery: version, extensions, maximum size, checksum algorithms");
        uploads.MapPost("/", Create).Requires(Role.Editor)
            .WithSummary("tus creation: Upload-Length and Upload-Metadata (video, slot, filename) → 201 with Location")
            .Produces(201).ProducesProblem(400).ProducesProblem(413).ProducesProblem(412);
        uploads.MapMethods("/{id}", ["HEAD"], Head).Requires(Role.Editor)
            .WithSummary("tus: the upload's offset, length and expiry").Produces(200).Produces(404).Produces(410);
        uploads.MapPatch("/{id}", Patch).Requires(Role.Editor)
            .WithSummary("tus: append bytes at Upload-Offset (application/offset+octet-stream; optional Upload-Checksum)")
            .Produces(204).ProducesProblem(409).ProducesProblem(415).ProducesProblem(460);
        uploads.MapDelete("/{id}", Terminate).Requires(Role.Editor)
            .WithSummary("tus termination: stop an upload and remove its bytes").Produces(204).Produces(404);
        uploads.MapGet("/{id}", Status).Requires(Role.Editor)
            .WithSummary("The upload's state as JSON (not part of tus): offset, length, and once stored the media record")
            .Produces<JsonObject>(200).ProducesProblem(404);
    }

    private static void TusHeaders(HttpResponse response)
    {
        response.Headers["Tus-Resumable"] = Version;
        response.Headers.CacheControl = "no-store";
    }

    private static IResult Options(HttpContext http, ServeOptions options)
    {
        TusHeaders(http.Response);
        http.Response.Headers["Tus-Version"] = Version;
        http.Response.Headers["Tus-Extension"] = Extensions;
        http.Response.Headers["Tus-Max-Size"] = options.MaxUploadBytes.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers["Tus-Checksum-Algorithm"] = ChecksumAlgorithms;
        return Results.NoContent();
    }

    /// <summary>Every request but OPTIONS must speak tus 1.0.0 (412 with the versions spoken, as the protocol asks).</summary>
    private static void EnsureVersion(HttpContext http)
    {
        if (http.Request.Headers["Tus-Resumable"].ToString() == Version) return;
        http.Response.Headers["Tus-Version"] = Version;
        throw new WebInputException(new Problem(412, "invalid_input", "Unsupported tus version",
            $"Tus-Resumable is '{http.Request.Headers["Tus-Resumable"]}', not {Version}.", $"Send Tus-Resumable: {Version} (any tus 1.0 client does)."));
    }

    private static async Task<IResult> Create(HttpContext http, ManimCloudClient client, TusUploadStore store, ServeOptions options, CancellationToken ct)
    {
        EnsureVersion(http);
        TusHeaders(http.Response);
        if (http.Request.Headers.ContainsKey("Upload-Defer-Length"))
            throw new WebInputException(Problem.BadInput("Upload-Defer-Length is not supported.", "Send Upload-Length with the file's size."));
        if (!long.TryParse(http.Request.Headers["Upload-Length"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length <= 0)
            throw new WebInputException(Problem.BadInput($"Upload-Length '{http.Request.Headers["Upload-Length"]}' is not a positive size.",
                "Send Upload-Length: the file's size in bytes."));
        if (length > options.MaxUploadBytes)
            throw new WebInputException(Problem.TooLarge($"The upload is {length} bytes; this service takes at most {options.MaxUploadBytes}.",
                "Upload a smaller file, or raise MANIMCLOUD_UPLOAD_MAX."));
        if (http.Request.ContentLength > 0)
            throw new WebInputException(Problem.BadInput("This service does not take data with the creation request (creation-with-upload).",
                "Create the upload with an empty body, then PATCH the bytes."));
        var raw = http.Request.Headers["Upload-Metadata"].ToString();
        var metadata = ParseMetadata(raw);
        var videoId = VideoId.Parse(metadata.GetValueOrDefault("video")
            ?? throw new ManimCloudException(ErrorKind.InvalidInput, "Upload-Metadata has no 'video'.", "Add metadata video=<video id> (base64, as tus encodes it)."));
        var slot = MediaApi.ParseSlot(metadata.GetValueOrDefault("slot")
            ?? throw new ManimCloudException(ErrorKind.InvalidInput, "Upload-Metadata has no 'slot'.", "Add metadata slot=full or slot=scene_001."));
        var video = await client.GetVideoAsync(videoId, ct);
        http.Caller().EnsureProject(video.Project);
        var upload = store.Create(video.Id, video.Project, slot, length, raw, options.UploadExpiry);
        http.Response.Headers.Location = $"{http.Request.PathBase}/api/v1/uploads/{upload.Id}";
        http.Response.Headers["Upload-Expires"] = upload.ExpiresAt.ToString("R");
        http.Response.Headers["Upload-Offset"] = "0";
        return Results.StatusCode(201);
    }

    private static TusUpload Load(HttpContext http, TusUploadStore store, string id)
    {
        var upload = store.Find(id) ?? throw new ManimCloudException(ErrorKind.NotFound, $"There is no upload '{id}'.",
            "Create an upload first (POST /api/v1/uploads/); ids are the last part of the Location it returned.");
        http.Caller().EnsureProject(upload.Project);
        if (upload.State == TusUpload.Expired)
            throw new WebInputException(new Problem(410, "not_found", "Upload expired",
                $"Upload {id} expired at {upload.ExpiresAt:O} before its last byte arrived; its bytes were removed.", "Start the upload again."));
        return upload;
    }

    private static IResult Head(HttpContext http, TusUploadStore store, string id)
    {
        EnsureVersion(http);
        var upload = Load(http, store, id);
        TusHeaders(http.Response);
        http.Response.Headers["Upload-Offset"] = upload.Offset.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers["Upload-Length"] = upload.Length.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers["Upload-Metadata"] = upload.Metadata;
        if (upload.IsOpen) http.Response.Headers["Upload-Expires"] = upload.ExpiresAt.ToString("R");
        return Results.Ok();
    }

    private static async Task<IResult> Patch(HttpContext http, ManimCloudClient client, TusUploadStore store, EventFeed events, string id, CancellationToken ct)
    {
        EnsureVersion(http);
        TusHeaders(http.Response);
        if (!string.Equals(http.Request.ContentType, OffsetContentType, StringComparison.OrdinalIgnoreCase))
            throw new WebInputException(Problem.UnsupportedMediaType($"A tus PATCH must be {OffsetContentType}, not '{http.Request.ContentType}'.",
                $"Send Content-Type: {OffsetContentType}."));
        var gate = Writing.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(TimeSpan.FromSeconds(5), ct))
            throw new WebInputException(new Problem(409, "conflict", "Upload busy", $"Another request is writing to upload {id}.",
                "Send one PATCH at a time; HEAD the upload for its offset once the other request ends."));
        try
        {
            var upload = Load(http, store, id);
            if (!upload.IsOpen)
                throw new WebInputException(new Problem(409, "conflict", "Upload finished", $"Upload {id} is already {upload.State}.", "Start a new upload."));
            if (!long.TryParse(http.Request.Headers["Upload-Offset"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
                throw new WebInputException(Problem.BadInput("Upload-Offset is missing or not a number.", "Send Upload-Offset: the offset HEAD returned."));
            if (offset != upload.Offset)
                throw new WebInputException(new Problem(409, "conflict", "Offset mismatch",
                    $"Upload-Offset is {offset}, but upload {id} has {upload.Offset} bytes.", "HEAD the upload and continue from the Upload-Offset it returns."));
            var checksum = ParseChecksum(http.Request.Headers["Upload-Checksum"].ToString());
            var remaining = upload.Length - upload.Offset;
            if (http.Request.ContentLength > remaining)
                throw new WebInputException(Problem.TooLarge($"The PATCH carries {http.Request.ContentLength} bytes; only {remaining} remain of the upload.",
                    "Send no more than Upload-Length − Upload-Offset bytes."));
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = remaining;

            var written = await AppendAsync(store.PathOf(id), upload.Offset, remaining, http.Request.Body, checksum, ct);
            var newOffset = upload.Offset + written;
            store.RecordOffset(id, newOffset);
            http.Response.Headers["Upload-Offset"] = newOffset.ToString(CultureInfo.InvariantCulture);
            http.Response.Headers["Upload-Expires"] = upload.ExpiresAt.ToString("R");
            if (newOffset == upload.Length) await FinishAsync(client, store, events, upload, ct);
            return Results.NoContent();
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Appends the body at <paramref name="offset"/>, flushed to disk before the new offset is recorded. With a checksum,
    /// all or nothing: a mismatch (460) or a body cut short leaves the file as it was. Without one, a body cut short
    /// keeps what arrived, so the client resumes from there.
    /// </summary>
    private static async Task<long> AppendAsync(string path, long offset, long remaining, Stream body, (string Algorithm, byte[] Expected, IncrementalHash Hash)? checksum, CancellationToken ct)
    {
        await using var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        if (file.Length != offset) file.SetLength(offset); // bytes after the recorded offset were never acknowledged
        file.Position = offset;
        var buffer = new byte[1 << 16];
        long written = 0;
        try
        {
            int n;
            while ((n = await body.ReadAsync(buffer, ct)) > 0)
            {
                if (written + n > remaining)
                    throw new WebInputException(Problem.TooLarge("The PATCH carries more bytes than remain of the upload.", "Send no more than Upload-Length − Upload-Offset bytes."));
                await file.WriteAsync(buffer.AsMemory(0, n), ct);
                checksum?.Hash.AppendData(buffer, 0, n);
                written += n;
            }
        }
        catch (Exception e) when (checksum is null && e is IOException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionResetException or BadHttpRequestException)
        {
            // The connection dropped mid-body: keep what arrived (tus resumes from the stored offset).
            await file.FlushAsync(CancellationToken.None);
            file.Flush(flushToDisk: true);
            return written;
        }
        catch
        {
            file.SetLength(offset);
            throw;
        }
        if (checksum is { } c)
        {
            using (c.Hash)
                if (!CryptographicOperations.FixedTimeEquals(c.Hash.GetHashAndReset(), c.Expected))
                {
                    file.SetLength(offset);
                    throw new WebInputException(new Problem(460, "invalid_input", "Checksum mismatch",
                        $"The {c.Algorithm} of the {written} bytes received does not match Upload-Checksum; they were discarded.", "Send the chunk again."));
                }
        }
        await file.FlushAsync(ct);
        file.Flush(flushToDisk: true);
        return written;
    }

    private static async Task FinishAsync(ManimCloudClient client, TusUploadStore store, EventFeed events, TusUpload upload, CancellationToken ct)
    {
        try
        {
            var w = await client.PutMediaAsync(upload.Video, upload.Slot, store.PathOf(upload.Id), CancellationToken.None);
            var result = new JsonObject
            {
                ["video_id"] = upload.Video.ToString(), ["slot"] = upload.Slot.Name, ["key"] = w.Value.Key, ["size"] = w.Value.Size,
                ["sha256"] = w.Value.Sha256, ["version"] = w.Value.Version,
            };
            store.Finish(upload.Id, TusUpload.Complete, VideoApi.Written(w, result, client).ToJsonString(), null);
            events.Changed(await client.GetVideoAsync(upload.Video, ct));
        }
        catch (ManimCloudException e) when (!e.IsRetryable)
        {
            // Refused for good (not an MP4, …): nothing of it is kept, and the client hears why.
            store.Finish(upload.Id, TusUpload.Failed, null, e.Message);
            throw;
        }
    }

    private static IResult Terminate(HttpContext http, TusUploadStore store, string id)
    {
        EnsureVersion(http);
        var upload = Load(http, store, id);
        var gate = Writing.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        if (!gate.Wait(TimeSpan.FromSeconds(5)))
            throw new WebInputException(new Problem(409, "conflict", "Upload busy", $"A request is writing to upload {id}.", "Try again when it ends."));
        try
        {
            store.Delete(upload.Id);
        }
        finally
        {
            gate.Release();
            Writing.TryRemove(id, out _);
        }
        TusHeaders(http.Response);
        return Results.NoContent();
    }

    private static IResult Status(HttpContext http, TusUploadStore store, string id)
    {
        var upload = store.Find(id) ?? throw new ManimCloudException(ErrorKind.NotFound, $"There is no upload '{id}'.", "Check the upload id.");
        http.Caller().EnsureProject(upload.Project);
        return new JsonResult(new JsonObject
        {
            ["id"] = upload.Id, ["video_id"] = upload.Video.ToString(), ["slot"] = upload.Slot.Name, ["length"] = upload.Length,
            ["offset"] = upload.Offset, ["state"] = upload.State, ["expires_at"] = upload.ExpiresAt.ToString("O"),
            ["media"] = upload.Result is { } r ? JsonNode.Parse(r) : null, ["error"] = upload.Error,
        });
    }

    /// <summary>tus metadata: comma-separated "key base64value" pairs (a key alone has an empty value).</summary>
    public static Dictionary<string, string> ParseMetadata(string header)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (header.Length > 4096)
            throw new ManimCloudException(ErrorKind.InvalidInput, "Upload-Metadata is longer than 4096 characters.", "Send only video, slot and filename.");
        foreach (var pair in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split(' ', 2);
            string value;
            try
            {
                value = parts.Length == 2 ? Encoding.UTF8.GetString(Convert.FromBase64String(parts[1])) : "";
            }
            catch (FormatException)
            {
                throw new ManimCloudException(ErrorKind.InvalidInput, $"Upload-Metadata value of '{parts[0]}' is not base64.", "Encode each metadata value in base64, as tus clients do.");
            }
            if (!result.TryAdd(parts[0], value))
                throw new ManimCloudException(ErrorKind.InvalidInput, $"Upload-Metadata has '{parts[0]}' twice.", "Send each key once.");
        }
        return result;
    }

    private static (string, byte[], IncrementalHash)? ParseChecksum(string header)
    {
        if (header.Length == 0) return null;
        var parts = header.Split(' ', 2);
        var algorithm = parts[0].ToLowerInvariant();
        HashAlgorithmName? name = algorithm switch { "sha1" => HashAlgorithmName.SHA1, "sha256" => HashAlgorithmName.SHA256, "md5" => HashAlgorithmName.MD5, _ => null };
        if (name is null)
            throw new WebInputException(Problem.BadInput($"Upload-Checksum algorithm '{parts[0]}' is not supported.", $"Use one of {ChecksumAlgorithms}."));
        byte[] expected;
        try { expected = Convert.FromBase64String(parts.Length == 2 ? parts[1] : ""); }
        catch (FormatException) { throw new WebInputException(Problem.BadInput("Upload-Checksum's value is not base64.", "Send 'ALGORITHM BASE64DIGEST'.")); }
        return (algorithm, expected, IncrementalHash.CreateHash(name.Value));
    }
}
