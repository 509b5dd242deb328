using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.S3;
using Amazon.S3.Model;
using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Streaming.MediaConvert;

/// <summary>How the fake answers the next request instead of serving it.</summary>
public enum MediaConvertFault
{
    /// <summary>500 InternalServerErrorException.</summary>
    InternalError,
    /// <summary>429 TooManyRequestsException.</summary>
    Throttle,
    /// <summary>The connection is closed without an answer, before the request is served.</summary>
    Drop,
    /// <summary>The request is served (a job is created) and then the connection is closed: the answer is lost.</summary>
    LoseAnswer,
}

/// <summary>How one job goes: polls spent in each state, and how it ends.</summary>
public sealed record JobScript
{
    public int SubmittedPolls { get; init; } = 1;
    public int ProgressingPolls { get; init; } = 2;
    /// <summary>Null: COMPLETE. Otherwise the job ends in ERROR with this code.</summary>
    public int? ErrorCode { get; init; }
    public string ErrorMessage { get; init; } = "";
    /// <summary>Seconds of media each output gets (what a probe of the clip would say).</summary>
    public double DurationSeconds { get; init; } = 7.5;
}

/// <summary>
/// A loopback HTTP endpoint that answers like MediaConvert's REST/JSON API 2017-08-29 (CreateJob, GetJob, CancelJob),
/// enough for ManimCloud's client and engine: jobs move SUBMITTED → PROGRESSING → COMPLETE (or ERROR with an
/// errorCode and errorMessage) one step per GetJob; CreateJob is de-duplicated by clientRequestToken; every request's
/// SigV4 signature is verified against the test credentials; faults can be queued. When a job completes, it writes
/// into moto's S3 what a real job writes: per CMAF group the HLS master and media playlists, the DASH MPD, init and
/// media segments (named as MediaConvert names them: base name + name modifier), and the frame captures.
/// A job whose input is not in S3 ends in ERROR 1404, as MediaConvert's does.
/// </summary>
public sealed class FakeMediaConvert : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private readonly IAmazonS3? _s3;
    private readonly ConcurrentDictionary<string, FakeJob> _jobs = new();
    private readonly ConcurrentDictionary<string, string> _byToken = new();
    private int _sequence;

    public string Endpoint { get; }
    public string Region { get; init; } = "us-east-1";
    public string SecretKey { get; init; } = "testing";
    public ConcurrentQueue<MediaConvertFault> Faults { get; } = new();
    /// <summary>While set, jobs stay where they are (a busy queue): polls see no progress.</summary>
    public volatile bool Hold;
    public int GetJobRequests => _getJobRequests;
    private int _getJobRequests;
    /// <summary>Decides each new job's course from its CreateJob body.</summary>
    public Func<JsonObject, JobScript> Script { get; set; } = _ => new JobScript();
    public ConcurrentBag<string> SignatureProblems { get; } = [];
    public ConcurrentQueue<JsonObject> CreateBodies { get; } = new();
    public int Requests => _requests;
    private int _requests;
    public int JobsCreated => _jobs.Count;
    public IEnumerable<JsonObject> Jobs => _jobs.Values.Select(j => j.Json());

    /// <param name="s3">Where completed jobs write their outputs (the suite's moto); null: jobs write nothing.</param>
    public FakeMediaConvert(IAmazonS3? s3 = null)
    {
        _s3 = s3;
        var port = MotoServer.FreePort();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        Interlocked.Increment(ref _requests);
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.InputStream.CopyToAsync(buffer);
        var body = buffer.ToArray();
        try
        {
            if (SigV4Verifier.Problem(request, body, SecretKey, Region, "mediaconvert") is { } problem)
            {
                SignatureProblems.Add($"{request.HttpMethod} {request.RawUrl}: {problem}");
                await ErrorAsync(context, 403, "ForbiddenException", "The request signature we calculated does not match the signature you provided.");
                return;
            }
            var hasFault = Faults.TryDequeue(out var fault);
            switch (hasFault ? fault : (MediaConvertFault?)null)
            {
                case MediaConvertFault.InternalError:
                    await ErrorAsync(context, 500, "InternalServerErrorException", "Internal failure.");
                    return;
                case MediaConvertFault.Throttle:
                    await ErrorAsync(context, 429, "TooManyRequestsException", "Too many requests have been sent in too short of a time.");
                    return;
                case MediaConvertFault.Drop:
                    await CutAsync(context);
                    return;
            }
            var (status, answer) = await ServeRequestAsync(request.HttpMethod, request.Url!.AbsolutePath, body);
            if (hasFault && fault == MediaConvertFault.LoseAnswer)
            {
                await CutAsync(context);
                return;
            }
            if (answer is null) await ErrorAsync(context, status, status == 404 ? "NotFoundException" : "BadRequestException", "See the request.");
            else await JsonAsync(context, status, answer);
        }
        catch (Exception e)
        {
            try { await ErrorAsync(context, 500, "InternalServerErrorException", e.Message); } catch (Exception) { }
        }
    }

    private async Task<(int, JsonNode?)> ServeRequestAsync(string method, string path, byte[] body)
    {
        const string jobs = "/2017-08-29/jobs";
        if (method == "POST" && path == jobs)
        {
            var create = JsonNode.Parse(body)!.AsObject();
            CreateBodies.Enqueue(create);
            if (create["role"] is null || create["settings"] is null) return (400, null);
            var token = (string?)create["clientRequestToken"];
            if (token is not null && _byToken.TryGetValue(token, out var existing)) return (201, new JsonObject { ["job"] = _jobs[existing].Json() });
            var id = $"{1_764_000_000_000 + Interlocked.Increment(ref _sequence)}-{Guid.NewGuid().ToString("N")[..6]}";
            var job = new FakeJob(id, create, Script(create), Region);
            if (token is not null && !_byToken.TryAdd(token, id)) return (201, new JsonObject { ["job"] = _jobs[_byToken[token]].Json() });
            _jobs[id] = job;
            return (201, new JsonObject { ["job"] = job.Json() });
        }
        if (path.StartsWith(jobs + "/", StringComparison.Ordinal) && _jobs.TryGetValue(path[(jobs.Length + 1)..], out var found))
        {
            if (method == "GET")
            {
                Interlocked.Increment(ref _getJobRequests);
                if (!Hold) await found.AdvanceAsync(this);
                return (200, new JsonObject { ["job"] = found.Json() });
            }
            if (method == "DELETE")
            {
                if (found.IsFinished) return (409, null);
                found.Cancel();
                return (202, new JsonObject());
            }
        }
        return (404, null);
    }

    /// <summary>
    /// Cuts the connection in the middle of an answer. (HttpListener's Abort alone answers an empty 200 here, so the
    /// answer is started with a length it never reaches, which the client sees as a connection lost mid-way.)
    /// </summary>
    private static async Task CutAsync(HttpListenerContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentLength64 = 1000;
        await context.Response.OutputStream.WriteAsync("{\"job\""u8.ToArray());
        await context.Response.OutputStream.FlushAsync();
        context.Response.Abort();
    }

    private static async Task JsonAsync(HttpListenerContext context, int status, JsonNode body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }

    private static async Task ErrorAsync(HttpListenerContext context, int status, string code, string message)
    {
        context.Response.Headers["x-amzn-ErrorType"] = code;
        await JsonAsync(context, status, new JsonObject { ["message"] = message });
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try { await _serving; } catch (Exception) { }
    }

    private sealed class FakeJob(string id, JsonObject create, JobScript script, string region)
    {
        private readonly object _gate = new();
        private string _status = "SUBMITTED";
        private int _polls;
        private int? _percent;
        private string? _phase;
        private int? _errorCode;
        private string? _errorMessage;
        private readonly double _submitted = Now();
        private double? _started, _finished;
        private readonly List<long> _durations = [];

        public bool IsFinished { get { lock (_gate) return _status is "COMPLETE" or "ERROR" or "CANCELED"; } }

        public void Cancel() { lock (_gate) { _status = "CANCELED"; _finished = Now(); } }

        public async Task AdvanceAsync(FakeMediaConvert fake)
        {
            bool complete;
            lock (_gate)
            {
                if (_status is "COMPLETE" or "ERROR" or "CANCELED") return;
                _polls++;
                if (_polls <= script.SubmittedPolls) return;
                if (_polls <= script.SubmittedPolls + script.ProgressingPolls)
                {
                    _status = "PROGRESSING";
                    _started ??= Now();
                    var step = _polls - script.SubmittedPolls;
                    _percent = 100 * (step - 1) / Math.Max(1, script.ProgressingPolls);
                    _phase = step == 1 ? "PROBING" : "TRANSCODING";
                    return;
                }
                complete = script.ErrorCode is null;
            }
            var inputError = complete ? await fake.MissingInputAsync(create) : null;
            if (complete && inputError is null && fake._s3 is not null) await WriteOutputsAsync(fake._s3);
            lock (_gate)
            {
                _started ??= Now();
                _finished = Now();
                _phase = null;
                if (complete && inputError is null)
                {
                    _status = "COMPLETE";
                    _percent = null;
                }
                else
                {
                    _status = "ERROR";
                    _errorCode = inputError is null ? script.ErrorCode : 1404;
                    _errorMessage = inputError ?? script.ErrorMessage;
                }
            }
        }

        public JsonObject Json()
        {
            lock (_gate)
            {
                var job = new JsonObject
                {
                    ["id"] = id,
                    ["arn"] = $"arn:aws:mediaconvert:{region}:123456789012:jobs/{id}",
                    ["status"] = _status,
                    ["role"] = create["role"]?.DeepClone(),
                    ["settings"] = create["settings"]?.DeepClone(),
                    ["createdAt"] = Math.Floor(_submitted),
                    ["queue"] = $"arn:aws:mediaconvert:{region}:123456789012:queues/Default",
                    ["timing"] = Timing(),
                };
                if (create["clientRequestToken"] is { } token) job["clientRequestToken"] = token.DeepClone();
                if (create["userMetadata"] is { } metadata) job["userMetadata"] = metadata.DeepClone();
                if (_percent is { } p) job["jobPercentComplete"] = p;
                if (_phase is not null) job["currentPhase"] = _phase;
                if (_errorCode is { } code) { job["errorCode"] = code; job["errorMessage"] = _errorMessage; }
                if (_status == "COMPLETE")
                    job["outputGroupDetails"] = new JsonArray(_durations.Select(d => (JsonNode)new JsonObject
                    {
                        ["outputDetails"] = new JsonArray(new JsonObject { ["durationInMs"] = d }),
                    }).ToArray());
                return job;
            }
        }

        private JsonObject Timing()
        {
            var timing = new JsonObject { ["submitTime"] = Math.Floor(_submitted) };
            if (_started is { } s) timing["startTime"] = Math.Floor(s);
            if (_finished is { } f) timing["finishTime"] = Math.Ceiling(f);
            return timing;
        }

        private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

        private async Task WriteOutputsAsync(IAmazonS3 s3)
        {
            foreach (var group in create["settings"]!["outputGroups"]!.AsArray())
            {
                var settings = group!["outputGroupSettings"]!;
                var type = (string)settings["type"]!;
                if (type == "CMAF_GROUP_SETTINGS") await WriteCmafAsync(s3, settings["cmafGroupSettings"]!, group["outputs"]!.AsArray());
                else if (type == "FILE_GROUP_SETTINGS") await WriteFramesAsync(s3, (string)settings["fileGroupSettings"]!["destination"]!, group["outputs"]!.AsArray());
            }
        }

        private async Task WriteCmafAsync(IAmazonS3 s3, JsonNode cmaf, JsonArray outputs)
        {
            var (bucket, prefix, name) = Split((string)cmaf["destination"]!);
            var segment = (int)cmaf["segmentLength"]!;
            var duration = script.DurationSeconds;
            var count = (int)Math.Ceiling(duration / segment);
            string Seconds(double s) => s.ToString("0.000", CultureInfo.InvariantCulture);
            var master = new List<string> { "#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS" };
            var videoSets = new StringBuilder();
            var audioSet = new StringBuilder();
            var hasAudio = outputs.Any(o => o!["audioDescriptions"] is not null);
            foreach (var output in outputs)
            {
                var modifier = (string)output!["nameModifier"]!;
                var isAudio = output["audioDescriptions"] is not null;
                var ext = isAudio ? "cmfa" : "cmfv";
                var track = name + modifier;
                var media = new List<string> { "#EXTM3U", "#EXT-X-VERSION:6", $"#EXT-X-TARGETDURATION:{segment}", "#EXT-X-MEDIA-SEQUENCE:1",
                    "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS", $"#EXT-X-MAP:URI=\"{track}_init.{ext}\"" };
                await PutAsync(s3, bucket, $"{prefix}{track}_init.{ext}", new string('i', 700));
                for (var k = 1; k <= count; k++)
                {
                    var length = Math.Min(segment, duration - (k - 1) * segment);
                    media.Add($"#EXTINF:{Seconds(length)},");
                    media.Add($"{track}_{k:D9}.{ext}");
                    await PutAsync(s3, bucket, $"{prefix}{track}_{k:D9}.{ext}", new string('s', 1000 + k));
                }
                media.Add("#EXT-X-ENDLIST");
                await PutAsync(s3, bucket, $"{prefix}{track}.m3u8", string.Join('\n', media) + "\n");
                _durations.Add((long)(duration * 1000));
                if (isAudio)
                {
                    master.Insert(3, $"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"program_audio\",LANGUAGE=\"eng\",NAME=\"Audio\",AUTOSELECT=YES,DEFAULT=YES,CHANNELS=\"2\",URI=\"{track}.m3u8\"");
                    audioSet.Append($"<AdaptationSet mimeType=\"audio/mp4\" segmentAlignment=\"true\" lang=\"eng\"><SegmentTemplate timescale=\"48000\" media=\"{track}_$Number%09d$.cmfa\" initialization=\"{track}_init.cmfa\" duration=\"{segment * 48000}\" startNumber=\"1\"/><Representation id=\"{modifier.TrimStart('_')}\" bandwidth=\"128000\" codecs=\"mp4a.40.2\" audioSamplingRate=\"48000\"/></AdaptationSet>");
                }
                else
                {
                    var video = output["videoDescription"]!;
                    var (w, h, max) = ((int)video["width"]!, (int)video["height"]!, (int)video["codecSettings"]!["h264Settings"]!["maxBitrate"]!);
                    var codecs = hasAudio ? "avc1.640028,mp4a.40.2" : "avc1.640028";
                    master.Add($"#EXT-X-STREAM-INF:BANDWIDTH={max + (hasAudio ? 128000 : 0)},AVERAGE-BANDWIDTH={max / 2},CODECS=\"{codecs}\",RESOLUTION={w}x{h},FRAME-RATE=30.000{(hasAudio ? ",AUDIO=\"program_audio\"" : "")},CLOSED-CAPTIONS=NONE");
                    master.Add($"{track}.m3u8");
                    videoSets.Append($"<Representation id=\"{modifier.TrimStart('_')}\" width=\"{w}\" height=\"{h}\" bandwidth=\"{max}\" codecs=\"avc1.640028\" frameRate=\"30/1\"><SegmentTemplate timescale=\"90000\" media=\"{track}_$Number%09d$.cmfv\" initialization=\"{track}_init.cmfv\" duration=\"{segment * 90000}\" startNumber=\"1\"/></Representation>");
                }
            }
            await PutAsync(s3, bucket, $"{prefix}{name}.m3u8", string.Join('\n', master) + "\n");
            var total = System.Xml.XmlConvert.ToString(TimeSpan.FromSeconds(duration));
            var mpd = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" minBufferTime=\"PT{segment}S\" profiles=\"urn:mpeg:dash:profile:isoff-main:2011\" type=\"static\" mediaPresentationDuration=\"{total}\">"
                + $"<Period start=\"PT0S\" duration=\"{total}\" id=\"1\"><AdaptationSet mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">{videoSets}</AdaptationSet>{audioSet}</Period></MPD>\n";
            await PutAsync(s3, bucket, $"{prefix}{name}.mpd", mpd);
        }

        private async Task WriteFramesAsync(IAmazonS3 s3, string destination, JsonArray outputs)
        {
            var (bucket, prefix, name) = Split(destination);
            var capture = outputs[0]!["videoDescription"]!["codecSettings"]!["frameCaptureSettings"]!;
            var frames = Math.Min((int)capture["maxCaptures"]!, 1 + (int)Math.Floor(script.DurationSeconds));
            for (var k = 0; k < frames; k++)
                await PutAsync(s3, bucket, $"{prefix}{name}.{k:D7}.jpg", "\xFF\xD8 fake jpeg " + k);
        }

        private static (string Bucket, string Prefix, string Name) Split(string s3Uri)
        {
            var path = s3Uri["s3://".Length..];
            var slash = path.IndexOf('/');
            var last = path.LastIndexOf('/');
            return (path[..slash], path[(slash + 1)..(last + 1)], path[(last + 1)..]);
        }

        private static Task PutAsync(IAmazonS3 s3, string bucket, string key, string content) =>
            s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = content });
    }

    /// <summary>The error a real job reports for an input that is not in S3, or null when every input is there.</summary>
    private async Task<string?> MissingInputAsync(JsonObject create)
    {
        if (_s3 is null) return null;
        foreach (var input in create["settings"]!["inputs"]!.AsArray())
        {
            var uri = (string)input!["fileInput"]!;
            var path = uri["s3://".Length..];
            var slash = path.IndexOf('/');
            try
            {
                await _s3.GetObjectMetadataAsync(path[..slash], path[(slash + 1)..]);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return $"Unable to open input file [{uri}]: [Failed probe/open: [No such file or directory]]";
            }
        }
        return null;
    }
}
