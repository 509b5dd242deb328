using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Win32.SafeHandles;

namespace FastS3;

/// <summary>How FastS3 spends CPU on bodies.</summary>
/// <param name="Md5ETags">MD5 ETags for parts too (S3's own behaviour) instead of XxHash128 ones; single PUTs always have MD5 ETags.</param>
/// <param name="VerifySha256">Check a hex x-amz-content-sha256 (signed payload) against the body (~2 GB/s of SHA-256).</param>
public sealed record ServerOptions(bool Md5ETags = false, bool VerifySha256 = false);

/// <summary>
/// The S3 REST operations the benchmarks' clients use, path-style (`/bucket/key`), with any signature accepted.
/// </summary>
public sealed class S3Api(Storage storage, ServerOptions options)
{
    /// <summary>Bucket sub-resources that are stored as sent and otherwise change nothing here.</summary>
    private static readonly string[] BucketSubresources =
    [
        "versioning", "encryption", "object-lock", "lifecycle", "tagging", "policy", "publicAccessBlock", "ownershipControls",
        "cors", "acl", "logging", "notification", "accelerate", "requestPayment", "website", "replication", "intelligent-tiering",
    ];

    private static readonly XNamespace Ns = "http://s3.amazonaws.com/doc/2006-03-01/";
    private const long MinPartSize = 5L << 20;
    private long _requests;

    public async Task HandleAsync(HttpContext ctx)
    {
        ctx.Response.Headers["x-amz-request-id"] = Interlocked.Increment(ref _requests).ToString("x16");
        try
        {
            await DispatchAsync(ctx);
        }
        catch (S3Error e) when (!ctx.Response.HasStarted)
        {
            await WriteErrorAsync(ctx, e);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
    }

    private Task DispatchAsync(HttpContext ctx)
    {
        var (bucket, key) = Target(ctx);
        var q = ctx.Request.Query;
        var method = ctx.Request.Method;
        if (bucket.Length == 0)
            return method == "GET" ? ListBucketsAsync(ctx) : throw NotImplemented(method, "/");
        if (key.Length == 0)
        {
            if (BucketSubresources.FirstOrDefault(q.ContainsKey) is { } sub)
                return BucketConfigAsync(ctx, storage.GetBucket(bucket), sub);
            return method switch
            {
                "PUT" => CreateBucket(ctx, bucket),
                "HEAD" => HeadBucket(ctx, bucket),
                "DELETE" => DeleteBucket(ctx, bucket),
                "GET" when q.ContainsKey("uploads") => ListMultipartUploadsAsync(ctx, bucket),
                "GET" when q.ContainsKey("location") => WriteXmlAsync(ctx, 200, new XElement(Ns + "LocationConstraint")),
                "GET" => ListObjectsAsync(ctx, storage.GetBucket(bucket)),
                _ => throw NotImplemented(method, bucket),
            };
        }
        if (q.ContainsKey("retention") || q.ContainsKey("legal-hold") || q.ContainsKey("tagging"))
            return ObjectConfigAsync(ctx, storage.GetBucket(bucket), key);
        return method switch
        {
            "PUT" when ctx.Request.Headers.ContainsKey("x-amz-copy-source") => throw NotImplemented("copy", key),
            "PUT" when q.ContainsKey("uploadId") => UploadPartAsync(ctx, bucket, key, q["uploadId"]!, q["partNumber"]),
            "PUT" => PutObjectAsync(ctx, bucket, key),
            "POST" when q.ContainsKey("uploads") => CreateMultipartUploadAsync(ctx, bucket, key),
            "POST" when q.ContainsKey("uploadId") => CompleteMultipartUploadAsync(ctx, bucket, key, q["uploadId"]!),
            "GET" when q.ContainsKey("uploadId") => ListPartsAsync(ctx, bucket, key, q["uploadId"]!),
            "GET" or "HEAD" => GetObjectAsync(ctx, bucket, key, method == "HEAD"),
            "DELETE" when q.ContainsKey("uploadId") => AbortMultipartUpload(ctx, bucket, key, q["uploadId"]!),
            "DELETE" => DeleteObject(ctx, bucket, key),
            _ => throw NotImplemented(method, key),
        };
    }

    /// <summary>Bucket and key from the raw request target, so an escaped '/' or '+' in a key survives.</summary>
    private static (string Bucket, string Key) Target(HttpContext ctx)
    {
        var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? ctx.Request.Path.Value ?? "/";
        var q = raw.IndexOf('?');
        var path = (q >= 0 ? raw[..q] : raw).TrimStart('/');
        var slash = path.IndexOf('/');
        return slash < 0
            ? (Uri.UnescapeDataString(path), "")
            : (Uri.UnescapeDataString(path[..slash]), Uri.UnescapeDataString(path[(slash + 1)..]));
    }

    // ---- buckets ----

    private Task ListBucketsAsync(HttpContext ctx) => WriteXmlAsync(ctx, 200, new XElement(Ns + "ListAllMyBucketsResult",
        new XElement(Ns + "Owner", new XElement(Ns + "ID", "fasts3"), new XElement(Ns + "DisplayName", "fasts3")),
        new XElement(Ns + "Buckets", storage.Buckets.Values.OrderBy(b => b.Name, StringComparer.Ordinal).Select(b =>
            new XElement(Ns + "Bucket", new XElement(Ns + "Name", b.Name), new XElement(Ns + "CreationDate", Iso(b.Created)))))));

    private Task CreateBucket(HttpContext ctx, string bucket)
    {
        var objectLock = string.Equals(ctx.Request.Headers["x-amz-bucket-object-lock-enabled"], "true", StringComparison.OrdinalIgnoreCase);
        storage.Buckets.TryAdd(bucket, new Bucket(bucket, objectLock));
        ctx.Response.Headers.Location = "/" + bucket;
        return Task.CompletedTask;
    }

    private Task HeadBucket(HttpContext ctx, string bucket)
    {
        storage.GetBucket(bucket);
        ctx.Response.Headers["x-amz-bucket-region"] = "us-east-1";
        return Task.CompletedTask;
    }

    private Task DeleteBucket(HttpContext ctx, string bucket)
    {
        var b = storage.GetBucket(bucket);
        if (!b.Objects.IsEmpty) throw new S3Error(409, "BucketNotEmpty", $"The bucket '{bucket}' is not empty.");
        storage.Buckets.TryRemove(bucket, out _);
        ctx.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Bucket configuration (versioning, encryption, Object Lock, lifecycle, policy …): a PUT stores the body, a GET returns
    /// it (or what S3 reports for a bucket without one), a DELETE forgets it. None of it changes how FastS3 stores objects.
    /// </summary>
    private async Task BucketConfigAsync(HttpContext ctx, Bucket bucket, string sub)
    {
        switch (ctx.Request.Method)
        {
            case "PUT":
                using (var reader = new StreamReader(ctx.Request.Body))
                    bucket.Config[sub] = await reader.ReadToEndAsync(ctx.RequestAborted);
                return;
            case "DELETE":
                bucket.Config.TryRemove(sub, out _);
                ctx.Response.StatusCode = 204;
                return;
            case "GET":
                if (bucket.Config.TryGetValue(sub, out var stored))
                {
                    ctx.Response.ContentType = sub == "policy" ? "application/json" : "application/xml";
                    await ctx.Response.WriteAsync(stored, ctx.RequestAborted);
                    return;
                }
                var fallback = sub switch
                {
                    "versioning" => new XElement(Ns + "VersioningConfiguration", bucket.ObjectLockEnabled ? new XElement(Ns + "Status", "Enabled") : null),
                    "encryption" => new XElement(Ns + "ServerSideEncryptionConfiguration", new XElement(Ns + "Rule",
                        new XElement(Ns + "ApplyServerSideEncryptionByDefault", new XElement(Ns + "SSEAlgorithm", "AES256")),
                        new XElement(Ns + "BucketKeyEnabled", "false"))),
                    "object-lock" when bucket.ObjectLockEnabled => new XElement(Ns + "ObjectLockConfiguration", new XElement(Ns + "ObjectLockEnabled", "Enabled")),
                    "acl" => new XElement(Ns + "AccessControlPolicy", new XElement(Ns + "Owner", new XElement(Ns + "ID", "fasts3")),
                        new XElement(Ns + "AccessControlList")),
                    _ => null,
                };
                if (fallback is not null) { await WriteXmlAsync(ctx, 200, fallback); return; }
                throw sub switch
                {
                    "object-lock" => new S3Error(404, "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket."),
                    "lifecycle" => new S3Error(404, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist."),
                    "tagging" => new S3Error(404, "NoSuchTagSet", "The TagSet does not exist."),
                    "policy" => new S3Error(404, "NoSuchBucketPolicy", "The bucket policy does not exist."),
                    "publicAccessBlock" => new S3Error(404, "NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found."),
                    "ownershipControls" => new S3Error(404, "OwnershipControlsNotFoundError", "The bucket ownership controls were not found."),
                    "cors" => new S3Error(404, "NoSuchCORSConfiguration", "The CORS configuration does not exist."),
                    "website" => new S3Error(404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration."),
                    "replication" => new S3Error(404, "ReplicationConfigurationNotFoundError", "The replication configuration was not found."),
                    _ => new S3Error(404, "NoSuchConfiguration", $"The bucket has no {sub} configuration."),
                };
            default:
                throw NotImplemented(ctx.Request.Method + " ?" + sub, bucket.Name);
        }
    }

    /// <summary>Object retention, legal hold and tags: kept with the object and returned on HEAD/GET as S3 does; nothing is enforced.</summary>
    private async Task ObjectConfigAsync(HttpContext ctx, Bucket bucket, string key)
    {
        var q = ctx.Request.Query;
        var method = ctx.Request.Method;
        if (method == "PUT")
        {
            XElement root;
            try { root = (await XDocument.LoadAsync(ctx.Request.Body, LoadOptions.None, ctx.RequestAborted)).Root!; }
            catch (System.Xml.XmlException e) { throw new S3Error(400, "MalformedXML", e.Message); }
            storage.Update(bucket, key, o =>
            {
                if (q.ContainsKey("tagging")) return o with { TaggingXml = root.ToString(SaveOptions.DisableFormatting) };
                var echoed = new Dictionary<string, string>(o.Echoed, StringComparer.OrdinalIgnoreCase);
                if (q.ContainsKey("legal-hold")) echoed["x-amz-object-lock-legal-hold"] = Child(root, "Status");
                else { echoed["x-amz-object-lock-mode"] = Child(root, "Mode"); echoed["x-amz-object-lock-retain-until-date"] = Child(root, "RetainUntilDate"); }
                return o with { Echoed = echoed };
            });
            return;
        }
        var obj = storage.GetObject(bucket, key);
        if (method == "DELETE" && q.ContainsKey("tagging"))
        {
            storage.Update(bucket, key, o => o with { TaggingXml = null });
            ctx.Response.StatusCode = 204;
            return;
        }
        if (method != "GET") throw NotImplemented(method, key);
        if (q.ContainsKey("tagging"))
        {
            if (obj.TaggingXml is { } xml) { ctx.Response.ContentType = "application/xml"; await ctx.Response.WriteAsync(xml, ctx.RequestAborted); }
            else await WriteXmlAsync(ctx, 200, new XElement(Ns + "Tagging", new XElement(Ns + "TagSet")));
            return;
        }
        if (q.ContainsKey("legal-hold"))
        {
            if (!obj.Echoed.TryGetValue("x-amz-object-lock-legal-hold", out var status))
                throw new S3Error(404, "NoSuchObjectLockConfiguration", "The specified object does not have a legal hold.");
            await WriteXmlAsync(ctx, 200, new XElement(Ns + "LegalHold", new XElement(Ns + "Status", status)));
            return;
        }
        if (!obj.Echoed.TryGetValue("x-amz-object-lock-mode", out var mode))
            throw new S3Error(404, "NoSuchObjectLockConfiguration", "The specified object does not have a retention configuration.");
        await WriteXmlAsync(ctx, 200, new XElement(Ns + "Retention", new XElement(Ns + "Mode", mode),
            new XElement(Ns + "RetainUntilDate", obj.Echoed.GetValueOrDefault("x-amz-object-lock-retain-until-date"))));
    }

    // ---- single-request objects ----

    private async Task PutObjectAsync(HttpContext ctx, string bucketName, string key)
    {
        var bucket = storage.GetBucket(bucketName);
        var h = ctx.Request.Headers;
        var createOnly = IsCreateOnly(ctx);
        // Refuse early, before reading the body, when the key is already there (S3 checks again when the body is in).
        if (createOnly && bucket.Objects.ContainsKey(key)) throw Storage.PreconditionFailed();
        var path = storage.NewDataPath();
        var body = await ReceiveAsync(ctx, path, null, md5ETag: !EncryptedWithKey(ctx));
        var obj = new StoredObject(key, body.Length, Quote(body.ETagHex), ContentType(ctx), DateTimeOffset.UtcNow,
            UserMetadata(ctx), body.Algorithm, body.Checksum, body.Algorithm is null ? null : "FULL_OBJECT",
            [new Segment(path, body.Length)]) { Echoed = EchoedHeaders(ctx) };
        try { storage.PutConditional(bucket, obj, createOnly, IfMatch(ctx)); }
        catch { File.Delete(path); throw; }
        ctx.Response.Headers.ETag = obj.ETag;
        EchoStored(ctx, obj.Echoed, encryptionOnly: true);
        EchoChecksum(ctx, body.Algorithm, body.Checksum, body.Algorithm is null ? null : "FULL_OBJECT");
    }

    /// <summary>
    /// Whether the object is SSE-KMS or SSE-C encrypted, the case where S3's single-PUT ETag is not the body's MD5.
    /// For every other single PUT, S3 documents the ETag as the MD5 and AWSSDK .NET checks it: a whole-object GetObject
    /// whose ETag has no '-' and no SSE-KMS key id / SSE-C header in the response is hashed with MD5 and fails
    /// ("Expected hash not equal to calculated hash") otherwise. So single PUTs keep MD5 ETags; parts, where the
    /// bulk of a large transfer's bytes go and which no client checks, get the cheap XxHash128 ETag.
    /// </summary>
    private static bool EncryptedWithKey(HttpContext ctx) =>
        ((string?)ctx.Request.Headers["x-amz-server-side-encryption"])?.StartsWith("aws:kms", StringComparison.OrdinalIgnoreCase) == true
        || ctx.Request.Headers.ContainsKey("x-amz-server-side-encryption-customer-algorithm");

    /// <summary>If-None-Match: * (S3's create-only write; no other If-None-Match value is allowed on a write).</summary>
    private static bool IsCreateOnly(HttpContext ctx) => ctx.Request.Headers.IfNoneMatch is { Count: > 0 } v
        ? v.ToString().Trim() == "*" ? true : throw new S3Error(501, "NotImplemented", "A write accepts only If-None-Match: *.")
        : false;

    private static Func<string, bool>? IfMatch(HttpContext ctx) =>
        ctx.Request.Headers.IfMatch is { Count: > 0 } v ? etag => EtagMatches(v, etag) : null;

    private Task DeleteObject(HttpContext ctx, string bucket, string key)
    {
        storage.Remove(storage.GetBucket(bucket), key);
        ctx.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    private async Task GetObjectAsync(HttpContext ctx, string bucketName, string key, bool headOnly)
    {
        var obj = storage.GetObject(storage.GetBucket(bucketName), key);
        var h = ctx.Request.Headers;
        if (h.IfMatch is { Count: > 0 } ifMatch && !EtagMatches(ifMatch, obj.ETag))
            throw new S3Error(412, "PreconditionFailed", "At least one of the preconditions you specified did not hold.");
        if (h.IfNoneMatch is { Count: > 0 } ifNoneMatch && EtagMatches(ifNoneMatch, obj.ETag))
        {
            ctx.Response.StatusCode = 304;
            ctx.Response.Headers.ETag = obj.ETag;
            return;
        }

        long start = 0, length = obj.Size;
        var partial = false;
        var res = ctx.Response;
        var partNumber = ctx.Request.Query["partNumber"] is { Count: > 0 } pn ? ParsePartNumber(pn) : 0;
        if (partNumber > 0)
        {
            var n = partNumber;
            var count = Math.Max(obj.PartsCount, 1);
            if (n > count) throw new S3Error(416, "InvalidPartNumber", $"The object has {count} part(s); part {n} was asked for.");
            start = obj.PartsCount == 0 ? 0 : obj.Segments.Take(n - 1).Sum(s => s.Length);
            length = obj.PartsCount == 0 ? obj.Size : obj.Segments[n - 1].Length;
            partial = true;
            if (obj.PartsCount > 0) res.Headers["x-amz-mp-parts-count"] = obj.PartsCount.ToString(CultureInfo.InvariantCulture);
        }
        else if (h.Range is { Count: > 0 } range && ParseRange(range.ToString(), obj.Size) is var (s, l))
        {
            (start, length, partial) = (s, l, true);
        }

        res.StatusCode = partial ? 206 : 200;
        if (partial) res.Headers.ContentRange = $"bytes {start}-{start + length - 1}/{obj.Size}";
        res.ContentLength = length;
        res.ContentType = obj.ContentType;
        res.Headers.ETag = obj.ETag;
        res.Headers.LastModified = obj.LastModified.ToString("R", CultureInfo.InvariantCulture);
        res.Headers.AcceptRanges = "bytes";
        foreach (var (k, v) in obj.Metadata) res.Headers["x-amz-meta-" + k] = v;
        EchoStored(ctx, obj.Echoed, encryptionOnly: false);
        // Like S3: the stored checksum comes back only when asked for, and only for the whole object.
        if (string.Equals(h["x-amz-checksum-mode"], "ENABLED", StringComparison.OrdinalIgnoreCase))
        {
            if (!partial || (partNumber > 0 && obj.PartsCount == 0)) EchoChecksum(ctx, obj.Algorithm, obj.Checksum, obj.ChecksumType);
            else if (partNumber > 0 && obj.PartChecksums.Count >= partNumber) EchoChecksum(ctx, obj.Algorithm, obj.PartChecksums[partNumber - 1], null);
        }
        if (headOnly || length == 0) return;
        await SendAsync(ctx, obj.Segments, start, length);
    }

    /// <summary>Streams [start, start+length) of the object's segments, each read positionally in large blocks.</summary>
    private async Task SendAsync(HttpContext ctx, IReadOnlyList<Segment> segments, long start, long length)
    {
        var ct = ctx.RequestAborted;
        var handles = new List<(Segment Segment, SafeFileHandle File, long Offset, long Count)>();
        try
        {
            long segmentStart = 0;
            foreach (var seg in segments)
            {
                var from = Math.Max(start, segmentStart);
                var to = Math.Min(start + length, segmentStart + seg.Length);
                if (from < to)
                {
                    try { handles.Add((seg, storage.OpenForRead(seg), from - segmentStart, to - from)); }
                    catch (FileNotFoundException) { throw new S3Error(404, "NoSuchKey", "The object was replaced while it was being read."); }
                }
                segmentStart += seg.Length;
            }
            var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                var body = ctx.Response.Body;
                foreach (var (_, file, offset, count) in handles)
                {
                    for (long done = 0; done < count;)
                    {
                        var n = await RandomAccess.ReadAsync(file, buffer.AsMemory(0, (int)Math.Min(buffer.Length, count - done)), offset + done, ct);
                        if (n == 0) throw new IOException("A stored segment is shorter than recorded.");
                        await body.WriteAsync(buffer.AsMemory(0, n), ct);
                        done += n;
                    }
                }
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
        }
        finally
        {
            foreach (var h in handles) storage.EndRead(h.Segment, h.File);
        }
    }

    // ---- multipart ----

    private Task CreateMultipartUploadAsync(HttpContext ctx, string bucket, string key)
    {
        storage.GetBucket(bucket);
        var h = ctx.Request.Headers;
        var algorithm = Checksums.Parse(h["x-amz-checksum-algorithm"]);
        var type = algorithm is null ? "" : (string?)h["x-amz-checksum-type"] is { Length: > 0 } t ? t.ToUpperInvariant() : "COMPOSITE";
        if (type == "FULL_OBJECT" && algorithm is not (ChecksumAlgorithm.Crc32 or ChecksumAlgorithm.Crc32C or ChecksumAlgorithm.Crc64Nvme))
            throw new S3Error(400, "InvalidRequest", "FULL_OBJECT checksums exist only for the CRC algorithms.");
        var upload = new MultipartUpload(Guid.NewGuid().ToString("N"), bucket, key, ContentType(ctx), UserMetadata(ctx), algorithm, type, EchoedHeaders(ctx));
        storage.Uploads[upload.Id] = upload;
        EchoStored(ctx, upload.Echoed, encryptionOnly: true);
        if (algorithm is { } a)
        {
            ctx.Response.Headers["x-amz-checksum-algorithm"] = a.ToString().ToUpperInvariant();
            ctx.Response.Headers["x-amz-checksum-type"] = type;
        }
        return WriteXmlAsync(ctx, 200, new XElement(Ns + "InitiateMultipartUploadResult",
            new XElement(Ns + "Bucket", bucket), new XElement(Ns + "Key", key), new XElement(Ns + "UploadId", upload.Id)));
    }

    private async Task UploadPartAsync(HttpContext ctx, string bucket, string key, string uploadId, StringValues partNumber)
    {
        var upload = storage.GetUpload(uploadId, bucket, key);
        var number = ParsePartNumber(partNumber);
        var path = storage.NewDataPath();
        var body = await ReceiveAsync(ctx, path, upload.Algorithm, md5ETag: false);
        if (upload.Algorithm is { } declared && body.Algorithm != declared)
        {
            File.Delete(path);
            throw new S3Error(400, "InvalidRequest", $"The upload was created for {declared} checksums; this part carries {body.Algorithm}.");
        }
        var part = new Part(number, new Segment(path, body.Length), Quote(body.ETagHex), body.Algorithm, body.Checksum, DateTimeOffset.UtcNow);
        Part? replaced = null;
        upload.Parts.AddOrUpdate(number, part, (_, old) => { replaced = old; return part; });
        if (replaced is not null) storage.Delete([replaced.Data]);
        if (!storage.Uploads.ContainsKey(uploadId)) File.Delete(path); // aborted meanwhile
        ctx.Response.Headers.ETag = part.ETag;
        EchoStored(ctx, upload.Echoed, encryptionOnly: true);
        EchoChecksum(ctx, body.Algorithm, body.Checksum, null);
    }

    private async Task CompleteMultipartUploadAsync(HttpContext ctx, string bucketName, string key, string uploadId)
    {
        var bucket = storage.GetBucket(bucketName);
        var upload = storage.GetUpload(uploadId, bucketName, key);
        XDocument request;
        try { request = await XDocument.LoadAsync(ctx.Request.Body, LoadOptions.None, ctx.RequestAborted); }
        catch (System.Xml.XmlException e) { throw new S3Error(400, "MalformedXML", "The CompleteMultipartUpload body is not valid XML: " + e.Message); }

        var listed = request.Root!.Elements().Where(e => e.Name.LocalName == "Part").Select(e => (
            Number: ParsePartNumber(Child(e, "PartNumber")),
            ETag: Child(e, "ETag"),
            Checksums: e.Elements().Where(c => c.Name.LocalName.StartsWith("Checksum", StringComparison.Ordinal) && c.Name.LocalName != "ChecksumType")
                .ToDictionary(c => c.Name.LocalName, c => c.Value))).ToList();
        if (listed.Count == 0) throw new S3Error(400, "MalformedXML", "The CompleteMultipartUpload body lists no parts.");

        var parts = new List<Part>();
        for (var i = 0; i < listed.Count; i++)
        {
            var (number, listedETag, checksums) = listed[i];
            if (i > 0 && number <= listed[i - 1].Number)
                throw new S3Error(400, "InvalidPartOrder", "The parts are not listed in ascending order.");
            if (!upload.Parts.TryGetValue(number, out var part) || Unquote(listedETag) != Unquote(part.ETag))
                throw new S3Error(400, "InvalidPart", $"Part {number} was not uploaded or its ETag does not match.");
            foreach (var (name, value) in checksums)
                if (part.Algorithm is { } a && Checksums.XmlName(a) == name && value != part.Checksum)
                    throw new S3Error(400, "InvalidPart", $"Part {number}'s {name} does not match the uploaded part.");
            if (i < listed.Count - 1 && part.Data.Length < MinPartSize)
                throw new S3Error(400, "EntityTooSmall", $"Part {number} is {part.Data.Length} bytes; all parts but the last must be at least 5 MiB.");
            parts.Add(part);
        }

        var etag = Quote(Convert.ToHexStringLower(MD5.HashData(parts.SelectMany(p => Convert.FromHexString(Unquote(p.ETag))).ToArray())) + "-" + parts.Count);
        var segments = parts.Select(p => p.Data).ToList();
        string? checksum = null;
        // An upload created without an algorithm whose parts all carry the same one gets a COMPOSITE checksum of it.
        var algorithm = upload.Algorithm ?? (parts.Select(p => p.Algorithm).Distinct().ToList() is [{ } only] ? only : null);
        var h = ctx.Request.Headers;
        var size = segments.Sum(s => s.Length);
        if ((string?)h["x-amz-mp-object-size"] is { Length: > 0 } declaredSize && declaredSize != size.ToString(CultureInfo.InvariantCulture))
            throw new S3Error(400, "InvalidRequest", $"x-amz-mp-object-size is {declaredSize}; the listed parts hold {size} bytes.");
        var fullObject = upload.Algorithm is not null && upload.ChecksumType == "FULL_OBJECT";
        if ((string?)h["x-amz-checksum-type"] is { Length: > 0 } declaredType
            && !string.Equals(declaredType, upload.Algorithm is null ? "COMPOSITE" : upload.ChecksumType, StringComparison.OrdinalIgnoreCase))
            throw new S3Error(400, "InvalidRequest", $"The upload was created with checksum type {(upload.Algorithm is null ? "(none)" : upload.ChecksumType)}; Complete says {declaredType}.");
        if (algorithm is { } alg)
        {
            // FULL_OBJECT: the whole object's CRC, combined from the part CRCs (each verified against its body on upload).
            checksum = fullObject
                ? Checksums.CombineFullObject(alg, parts.Select(p => (p.Checksum!, p.Data.Length)).ToList())
                : Checksums.Composite(alg, parts.Select(p => p.Checksum!).ToList());
            if ((string?)h[Checksums.HeaderName(alg)] is { Length: > 0 } expected && expected != checksum)
                throw new S3Error(400, "BadDigest", $"The {Checksums.Name(alg)} you specified ({expected}) does not match the {(fullObject ? "whole object's" : "multipart")} checksum computed from the parts ({checksum}).");
        }

        var checksumType = algorithm is null ? null : upload.Algorithm is null ? "COMPOSITE" : upload.ChecksumType;
        storage.PutConditional(bucket, new StoredObject(key, size, etag, upload.ContentType, DateTimeOffset.UtcNow,
            upload.Metadata, algorithm, checksum, checksumType, segments)
        {
            PartsCount = parts.Count,
            PartChecksums = parts.Select(p => p.Algorithm == algorithm ? p.Checksum : null).ToList(),
            Echoed = upload.Echoed,
        }, IsCreateOnly(ctx), IfMatch(ctx));
        storage.Uploads.TryRemove(uploadId, out _);
        storage.Delete(upload.Parts.Values.Where(p => !parts.Contains(p)).Select(p => p.Data));
        EchoStored(ctx, upload.Echoed, encryptionOnly: true);

        var result = new XElement(Ns + "CompleteMultipartUploadResult",
            new XElement(Ns + "Location", $"http://{ctx.Request.Host}/{bucketName}/{Uri.EscapeDataString(key)}"),
            new XElement(Ns + "Bucket", bucketName), new XElement(Ns + "Key", key), new XElement(Ns + "ETag", etag));
        if (algorithm is { } used)
        {
            result.Add(new XElement(Ns + Checksums.XmlName(used), checksum), new XElement(Ns + "ChecksumType", checksumType));
            EchoChecksum(ctx, used, checksum, checksumType);
        }
        await WriteXmlAsync(ctx, 200, result);
    }

    private Task AbortMultipartUpload(HttpContext ctx, string bucket, string key, string uploadId)
    {
        var upload = storage.GetUpload(uploadId, bucket, key);
        storage.Uploads.TryRemove(uploadId, out _);
        storage.Delete(upload.Parts.Values.Select(p => p.Data));
        ctx.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    private Task ListPartsAsync(HttpContext ctx, string bucket, string key, string uploadId)
    {
        var upload = storage.GetUpload(uploadId, bucket, key);
        var q = ctx.Request.Query;
        var marker = int.TryParse(q["part-number-marker"], out var m) ? m : 0;
        var max = int.TryParse(q["max-parts"], out var mp) && mp > 0 ? mp : 1000;
        var all = upload.Parts.Values.Where(p => p.Number > marker).OrderBy(p => p.Number).ToList();
        var page = all.Take(max).ToList();
        var result = new XElement(Ns + "ListPartsResult",
            new XElement(Ns + "Bucket", bucket), new XElement(Ns + "Key", key), new XElement(Ns + "UploadId", uploadId),
            new XElement(Ns + "PartNumberMarker", marker),
            new XElement(Ns + "NextPartNumberMarker", page.Count > 0 ? page[^1].Number : marker),
            new XElement(Ns + "MaxParts", max), new XElement(Ns + "IsTruncated", all.Count > page.Count ? "true" : "false"),
            new XElement(Ns + "StorageClass", "STANDARD"));
        if (upload.Algorithm is { } a)
            result.Add(new XElement(Ns + "ChecksumAlgorithm", a.ToString().ToUpperInvariant()), new XElement(Ns + "ChecksumType", upload.ChecksumType));
        foreach (var p in page)
        {
            var part = new XElement(Ns + "Part", new XElement(Ns + "PartNumber", p.Number), new XElement(Ns + "LastModified", Iso(p.LastModified)),
                new XElement(Ns + "ETag", p.ETag), new XElement(Ns + "Size", p.Data.Length));
            if (p.Algorithm is { } pa) part.Add(new XElement(Ns + Checksums.XmlName(pa), p.Checksum));
            result.Add(part);
        }
        return WriteXmlAsync(ctx, 200, result);
    }

    private Task ListMultipartUploadsAsync(HttpContext ctx, string bucket)
    {
        storage.GetBucket(bucket);
        var prefix = (string?)ctx.Request.Query["prefix"] ?? "";
        var result = new XElement(Ns + "ListMultipartUploadsResult",
            new XElement(Ns + "Bucket", bucket), new XElement(Ns + "Prefix", prefix), new XElement(Ns + "IsTruncated", "false"),
            new XElement(Ns + "MaxUploads", 1000));
        foreach (var u in storage.Uploads.Values.Where(u => u.Bucket == bucket && u.Key.StartsWith(prefix, StringComparison.Ordinal))
                     .OrderBy(u => u.Key, StringComparer.Ordinal).ThenBy(u => u.Initiated))
            result.Add(new XElement(Ns + "Upload", new XElement(Ns + "Key", u.Key), new XElement(Ns + "UploadId", u.Id),
                new XElement(Ns + "Initiated", Iso(u.Initiated)), new XElement(Ns + "StorageClass", "STANDARD")));
        return WriteXmlAsync(ctx, 200, result);
    }

    // ---- listing ----

    private Task ListObjectsAsync(HttpContext ctx, Bucket bucket)
    {
        var q = ctx.Request.Query;
        var v2 = q["list-type"] == "2";
        var prefix = (string?)q["prefix"] ?? "";
        var delimiter = (string?)q["delimiter"] ?? "";
        var max = int.TryParse(q["max-keys"], out var mk) && mk >= 0 ? Math.Min(mk, 1000) : 1000;
        var urlEncode = q["encoding-type"] == "url";
        string? token = v2 ? q["continuation-token"] : q["marker"];
        var after = token is { Length: > 0 } ? token : v2 ? (string?)q["start-after"] ?? "" : "";

        var contents = new List<StoredObject>();
        var prefixes = new List<string>();
        string? last = null;
        var truncated = false;
        foreach (var key in bucket.Objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            if (after.Length > 0 && (string.CompareOrdinal(key, after) <= 0 || (delimiter.Length > 0 && after.EndsWith(delimiter, StringComparison.Ordinal) && key.StartsWith(after, StringComparison.Ordinal))))
                continue;
            var cut = delimiter.Length > 0 ? key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal) : -1;
            var entry = cut >= 0 ? key[..(cut + delimiter.Length)] : key;
            if (cut >= 0 && prefixes.Count > 0 && prefixes[^1] == entry) continue;
            if (contents.Count + prefixes.Count >= max) { truncated = true; break; }
            if (cut >= 0) prefixes.Add(entry);
            else if (bucket.Objects.TryGetValue(key, out var o)) contents.Add(o);
            last = entry;
        }

        string Enc(string s) => urlEncode ? Uri.EscapeDataString(s).Replace("%2F", "/") : s;
        var result = new XElement(Ns + "ListBucketResult",
            new XElement(Ns + "Name", bucket.Name), new XElement(Ns + "Prefix", Enc(prefix)),
            new XElement(Ns + "MaxKeys", max), new XElement(Ns + "IsTruncated", truncated ? "true" : "false"));
        if (delimiter.Length > 0) result.Add(new XElement(Ns + "Delimiter", Enc(delimiter)));
        if (urlEncode) result.Add(new XElement(Ns + "EncodingType", "url"));
        if (v2)
        {
            result.Add(new XElement(Ns + "KeyCount", contents.Count + prefixes.Count));
            if (token is { Length: > 0 }) result.Add(new XElement(Ns + "ContinuationToken", token));
            if (truncated && last is not null) result.Add(new XElement(Ns + "NextContinuationToken", last));
        }
        else
        {
            result.Add(new XElement(Ns + "Marker", Enc(after)));
            if (truncated && last is not null) result.Add(new XElement(Ns + "NextMarker", Enc(last)));
        }
        foreach (var o in contents)
            result.Add(new XElement(Ns + "Contents", new XElement(Ns + "Key", Enc(o.Key)), new XElement(Ns + "LastModified", Iso(o.LastModified)),
                new XElement(Ns + "ETag", o.ETag), new XElement(Ns + "Size", o.Size), new XElement(Ns + "StorageClass", "STANDARD")));
        foreach (var p in prefixes)
            result.Add(new XElement(Ns + "CommonPrefixes", new XElement(Ns + "Prefix", Enc(p))));
        return WriteXmlAsync(ctx, 200, result);
    }

    // ---- request bodies ----

    /// <summary>
    /// Receives a PUT body into <paramref name="path"/> and checks it against what the client declared:
    /// length (decoded length for aws-chunked), Content-MD5, and the flexible checksum from a header or trailer.
    /// </summary>
    private async Task<ReceivedBody> ReceiveAsync(HttpContext ctx, string path, ChecksumAlgorithm? uploadAlgorithm, bool md5ETag)
    {
        var h = ctx.Request.Headers;
        var chunked = h.ContentEncoding.Any(v => v?.Contains("aws-chunked", StringComparison.OrdinalIgnoreCase) == true)
            || ((string?)h["x-amz-content-sha256"])?.StartsWith("STREAMING-", StringComparison.Ordinal) == true;
        var trailerNames = ((string?)h["x-amz-trailer"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var algorithm = trailerNames.Select(Checksums.FromHeaderName).FirstOrDefault(a => a is not null)
            ?? Checksums.All.Where(a => h.ContainsKey(Checksums.HeaderName(a))).Select(a => (ChecksumAlgorithm?)a).FirstOrDefault()
            ?? Checksums.Parse(h["x-amz-sdk-checksum-algorithm"])
            ?? uploadAlgorithm;
        // MD5 only when it is needed: to check a Content-MD5, for a single PUT's ETag (see PutObjectAsync), or with --md5-etags.
        var contentMd5 = (string?)h["Content-MD5"];
        // A hex x-amz-content-sha256 is a signed payload's hash (UNSIGNED-PAYLOAD and STREAMING-… are not hashes);
        // checking it costs a SHA-256 pass (~2 GB/s with SHA-NI here), so only with --verify-sha256.
        var payloadHash = (string?)h["x-amz-content-sha256"];
        var signedPayload = options.VerifySha256 && !chunked && payloadHash is { Length: 64 };
        var digests = new Digests(Md5: md5ETag || options.Md5ETags || !string.IsNullOrEmpty(contentMd5), Sha256: signedPayload);
        try
        {
            long? declared = chunked && long.TryParse(h["x-amz-decoded-content-length"], out var d) ? d : chunked ? null : ctx.Request.ContentLength;
            var body = await BodyReceiver.ReceiveAsync(ctx.Request.BodyReader, chunked, path, algorithm, digests, declared, ctx.RequestAborted);
            if (declared is { } expectedLength && expectedLength != body.Length)
                throw new S3Error(400, "IncompleteBody", $"Received {body.Length} bytes; the request declared {expectedLength}.");
            if (contentMd5 is { Length: > 0 } && contentMd5 != body.Md5Base64)
                throw new S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what was received.");
            if (signedPayload && !string.Equals(payloadHash, body.Sha256Hex, StringComparison.OrdinalIgnoreCase))
                throw new S3Error(400, "XAmzContentSHA256Mismatch", $"The provided 'x-amz-content-sha256' header ({payloadHash}) does not match what was computed ({body.Sha256Hex}).");
            if (algorithm is { } a)
            {
                var name = Checksums.HeaderName(a);
                var expected = body.Trailers.TryGetValue(name, out var t) ? t : (string?)h[name];
                if (!string.IsNullOrEmpty(expected) && expected != body.Checksum)
                    throw new S3Error(400, "BadDigest", $"The {Checksums.Name(a)} you specified ({expected}) did not match the calculated checksum ({body.Checksum}).");
            }
            return body;
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    // ---- helpers ----

    private static void EchoChecksum(HttpContext ctx, ChecksumAlgorithm? algorithm, string? value, string? type)
    {
        if (algorithm is not { } a || value is null) return;
        ctx.Response.Headers[Checksums.HeaderName(a)] = value;
        if (type is { Length: > 0 }) ctx.Response.Headers["x-amz-checksum-type"] = type;
    }

    /// <summary>The request headers an object keeps and S3 returns on HEAD/GET (see <see cref="StoredObject.Echoed"/>).</summary>
    private static readonly string[] EchoedNames =
    [
        "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-server-side-encryption-context",
        "x-amz-server-side-encryption-bucket-key-enabled", "x-amz-server-side-encryption-customer-key-MD5", "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
        "x-amz-object-lock-legal-hold", "x-amz-storage-class", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control", "Expires",
    ];

    private static Dictionary<string, string> EchoedHeaders(HttpContext ctx)
    {
        var echoed = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in EchoedNames)
            if ((string?)ctx.Request.Headers[name] is { Length: > 0 } v) echoed[name] = v;
        // SSE-KMS without a key means the account's AWS-managed key, whose id S3 returns (and AWSSDK .NET reads it as "not an MD5 ETag").
        if (echoed.TryGetValue("x-amz-server-side-encryption", out var sse) && sse.StartsWith("aws:kms", StringComparison.OrdinalIgnoreCase))
            echoed.TryAdd("x-amz-server-side-encryption-aws-kms-key-id", "arn:aws:kms:us-east-1:000000000000:alias/aws/s3");
        if ((string?)ctx.Request.Headers["x-amz-server-side-encryption-customer-algorithm"] is { Length: > 0 } sseC)
            echoed["x-amz-server-side-encryption-customer-algorithm"] = sseC;
        // aws-chunked is how the body travelled, not how the object is encoded: S3 strips it.
        if (echoed.TryGetValue("Content-Encoding", out var enc))
        {
            var rest = string.Join(",", enc.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Where(e => !e.Equals("aws-chunked", StringComparison.OrdinalIgnoreCase)));
            if (rest.Length == 0) echoed.Remove("Content-Encoding"); else echoed["Content-Encoding"] = rest;
        }
        return echoed;
    }

    /// <summary>Writes answer the SSE headers; HEAD/GET answer everything kept (storage class STANDARD is never sent, as in S3).</summary>
    private static void EchoStored(HttpContext ctx, IReadOnlyDictionary<string, string> echoed, bool encryptionOnly)
    {
        foreach (var (name, value) in echoed)
        {
            if (encryptionOnly && !name.StartsWith("x-amz-server-side-encryption", StringComparison.OrdinalIgnoreCase)) continue;
            if (name == "x-amz-server-side-encryption-context" && encryptionOnly is false) continue;
            if (name.Equals("x-amz-storage-class", StringComparison.OrdinalIgnoreCase) && value == "STANDARD") continue;
            ctx.Response.Headers[name] = value;
        }
    }

    private static Dictionary<string, string> UserMetadata(HttpContext ctx) =>
        ctx.Request.Headers.Where(h => h.Key.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key[11..].ToLowerInvariant(), h => h.Value.ToString());

    private static string ContentType(HttpContext ctx) => ctx.Request.ContentType is { Length: > 0 } t ? t : "binary/octet-stream";

    private static int ParsePartNumber(StringValues value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 10000 ? n
            : throw new S3Error(400, "InvalidArgument", $"Part number must be an integer between 1 and 10000, not '{value}'.");

    private static string Child(XElement e, string name) => e.Elements().FirstOrDefault(c => c.Name.LocalName == name)?.Value ?? "";

    /// <summary>A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; anything else means the whole object, as in S3.</summary>
    private static (long Start, long Length)? ParseRange(string header, long size)
    {
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',')) return null;
        var spec = header[6..].Trim().Split('-', 2);
        if (spec.Length != 2) return null;
        long start, end;
        if (spec[0].Length == 0)
        {
            if (!long.TryParse(spec[1], out var suffix) || suffix <= 0) return null;
            start = Math.Max(0, size - suffix);
            end = size - 1;
        }
        else
        {
            if (!long.TryParse(spec[0], out start)) return null;
            end = spec[1].Length == 0 ? size - 1 : long.TryParse(spec[1], out var e) ? Math.Min(e, size - 1) : -1;
            if (end < start && spec[1].Length > 0 && end >= 0) return null;
        }
        if (start >= size || end < start)
            throw new S3Error(416, "InvalidRange", $"The requested range '{header}' is not satisfiable for an object of {size} bytes.");
        return (start, end - start + 1);
    }

    private static bool EtagMatches(StringValues candidates, string etag) =>
        candidates.SelectMany(v => (v ?? "").Split(',')).Any(c => c.Trim() == "*" || Unquote(c.Trim()) == Unquote(etag));

    private static string Quote(string s) => '"' + s + '"';
    private static string Unquote(string s) => s.Trim().Trim('"');
    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static S3Error NotImplemented(string what, string target) =>
        new(501, "NotImplemented", $"FastS3 does not implement {what} on '{target}'; it serves only what the transfer benchmark's clients use.");

    private static async Task WriteXmlAsync(HttpContext ctx, int status, XElement root)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/xml";
        var bytes = System.Text.Encoding.UTF8.GetBytes(new XDocument(new XDeclaration("1.0", "UTF-8", null), root).Declaration + root.ToString(SaveOptions.DisableFormatting));
        ctx.Response.ContentLength = bytes.Length;
        await ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted);
    }

    private static async Task WriteErrorAsync(HttpContext ctx, S3Error e)
    {
        ctx.Response.Headers.Remove("ETag");
        if (ctx.Request.Method == "HEAD")
        {
            ctx.Response.StatusCode = e.Status;
            return;
        }
        await WriteXmlAsync(ctx, e.Status, new XElement("Error", new XElement("Code", e.Code), new XElement("Message", e.Message),
            new XElement("Resource", ctx.Request.Path.Value), new XElement("RequestId", ctx.Response.Headers["x-amz-request-id"].ToString())));
    }
}
