using System.Text.Json.Nodes;
using Amazon.Runtime;
using ManimCloud.Aws;
using ManimCloud.Domain;
using ManimCloud.Resilience;
using ManimCloud.Streaming.MediaConvert;

namespace ManimCloud.Tests.Streaming.MediaConvert;

/// <summary>
/// The MediaConvert client over the shared signed HTTP client, against a loopback endpoint that answers like
/// MediaConvert (<see cref="FakeMediaConvert"/>): jobs are submitted once however often the submit is retried,
/// followed to their end, failures come back in plain words, and every request is SigV4-signed.
/// </summary>
public sealed class MediaConvertClientTests
{
    internal static AwsHttpService Service(string endpoint, string secret = "testing") =>
        new(AwsServiceDescription.MediaConvert, new BasicAWSCredentials("testing", secret), "us-east-1", endpoint,
            new RetryPipeline(AwsErrors.Classify, TimeSpan.FromSeconds(30), baseDelay: TimeSpan.FromMilliseconds(20)));

    private static CreateJobRequest Request(string token) => new("arn:aws:iam::123456789012:role/mc",
        new JsonObject { ["inputs"] = new JsonArray(new JsonObject { ["fileInput"] = "s3://b/videos/k.mp4" }), ["outputGroups"] = new JsonArray() }, token);

    [Fact]
    public async Task A_job_is_followed_from_SUBMITTED_through_PROGRESSING_to_COMPLETE_with_its_timings_and_every_request_signed()
    {
        await using var fake = new FakeMediaConvert();
        using var service = Service(fake.Endpoint);
        var client = new MediaConvertClient(service);
        var job = await client.CreateJobAsync(Request("t-" + Guid.NewGuid().ToString("N")) with { UserMetadata = new Dictionary<string, string> { ["scene"] = "3" } }, CancellationToken.None);
        Assert.Equal(MediaConvertJobStatus.Submitted, job.Status);
        Assert.Equal("3", job.UserMetadata["scene"]);

        var seen = new List<MediaConvertJobStatus>();
        var done = await new JobWatch(client) { FirstPoll = TimeSpan.FromMilliseconds(20) }
            .UntilFinishedAsync(job.Id, (j, _) => seen.Add(j.Status), CancellationToken.None);
        Assert.Equal(MediaConvertJobStatus.Complete, done.Status);
        Assert.Equal([MediaConvertJobStatus.Submitted, MediaConvertJobStatus.Progressing, MediaConvertJobStatus.Complete], seen.Distinct());
        Assert.NotNull(done.SubmittedAt);
        Assert.NotNull(done.StartedAt);
        Assert.True(done.FinishedAt >= done.StartedAt);
        Assert.Empty(fake.SignatureProblems);
        Assert.True(fake.Requests >= 4);
    }

    [Fact]
    public async Task A_submit_retried_after_500_429_a_dropped_connection_and_a_lost_answer_creates_exactly_one_job()
    {
        await using var fake = new FakeMediaConvert();
        using var service = Service(fake.Endpoint);
        var client = new MediaConvertClient(service);
        foreach (var fault in new[] { MediaConvertFault.InternalError, MediaConvertFault.Throttle, MediaConvertFault.Drop, MediaConvertFault.LoseAnswer })
            fake.Faults.Enqueue(fault);
        var job = await client.CreateJobAsync(Request("t-" + Guid.NewGuid().ToString("N")), CancellationToken.None);
        Assert.Equal(1, fake.JobsCreated);
        Assert.Equal(5, fake.Requests); // four failed attempts, then the one whose answer came back
        Assert.Equal(job.Id, fake.Jobs.Single()["id"]!.ToString());
        Assert.Empty(fake.SignatureProblems);
    }

    [Fact]
    public async Task The_same_token_is_the_same_job_and_another_token_another()
    {
        await using var fake = new FakeMediaConvert();
        using var service = Service(fake.Endpoint);
        var client = new MediaConvertClient(service);
        var a = await client.CreateJobAsync(Request("token-a"), CancellationToken.None);
        var again = await client.CreateJobAsync(Request("token-a"), CancellationToken.None);
        var b = await client.CreateJobAsync(Request("token-b"), CancellationToken.None);
        Assert.Equal(a.Id, again.Id);
        Assert.NotEqual(a.Id, b.Id);
        Assert.Equal(2, fake.JobsCreated);
    }

    [Fact]
    public async Task A_failed_job_is_reported_with_its_code_in_plain_words_and_what_to_do()
    {
        await using var fake = new FakeMediaConvert
        {
            Script = _ => new JobScript { ErrorCode = 1401, ErrorMessage = "Access Denied (Service: Amazon S3; Status Code: 403)" },
        };
        using var service = Service(fake.Endpoint);
        var client = new MediaConvertClient(service);
        var job = await client.CreateJobAsync(Request("t-" + Guid.NewGuid().ToString("N")), CancellationToken.None);
        var done = await new JobWatch(client) { FirstPoll = TimeSpan.FromMilliseconds(20) }.UntilFinishedAsync(job.Id, (_, _) => { }, CancellationToken.None);
        Assert.Equal(MediaConvertJobStatus.Error, done.Status);
        Assert.Equal(1401, done.ErrorCode);
        var e = JobFailure.Describe(done, "scene 2");
        Assert.Equal(ErrorKind.Auth, e.Kind);
        Assert.Contains("access denied", e.Message);
        Assert.Contains("Access Denied (Service: Amazon S3", e.Message);
        Assert.Contains("iam policy --role mediaconvert", e.Hint);
    }

    [Fact]
    public async Task A_job_can_be_canceled_and_then_reads_back_CANCELED()
    {
        await using var fake = new FakeMediaConvert { Script = _ => new JobScript { SubmittedPolls = 100 } };
        using var service = Service(fake.Endpoint);
        var client = new MediaConvertClient(service);
        var job = await client.CreateJobAsync(Request("t-" + Guid.NewGuid().ToString("N")), CancellationToken.None);
        await client.CancelJobAsync(job.Id, CancellationToken.None);
        Assert.Equal(MediaConvertJobStatus.Canceled, (await client.GetJobAsync(job.Id, CancellationToken.None)).Status);
        var refused = await Assert.ThrowsAsync<AmazonServiceException>(() => client.CancelJobAsync(job.Id, CancellationToken.None));
        Assert.Equal(ErrorKind.Conflict, AwsErrors.Classify(refused));
    }

    [Fact]
    public async Task A_request_signed_with_the_wrong_secret_is_caught_by_the_verifier_and_refused_as_access_denied()
    {
        await using var fake = new FakeMediaConvert();
        using var service = Service(fake.Endpoint, secret: "not-the-secret");
        var e = await Assert.ThrowsAsync<AmazonServiceException>(() => new MediaConvertClient(service).GetJobAsync("1-abc", CancellationToken.None));
        Assert.Equal(ErrorKind.Auth, AwsErrors.Classify(e));
        Assert.Contains(fake.SignatureProblems, p => p.Contains("signature mismatch"));
    }

    [Fact]
    public async Task An_unknown_job_is_not_found()
    {
        await using var fake = new FakeMediaConvert();
        using var service = Service(fake.Endpoint);
        var e = await Assert.ThrowsAsync<AmazonServiceException>(() => new MediaConvertClient(service).GetJobAsync("1-nosuchjob", CancellationToken.None));
        Assert.Equal(ErrorKind.NotFound, AwsErrors.Classify(e));
        Assert.Equal("NotFoundException", e.ErrorCode);
    }

    [Fact]
    public void Every_error_code_in_the_table_says_what_happened_and_what_to_do()
    {
        foreach (var failure in JobFailure.All)
        {
            Assert.False(string.IsNullOrWhiteSpace(failure.Meaning));
            Assert.False(string.IsNullOrWhiteSpace(failure.Remedy));
        }
        Assert.Equal(ErrorKind.Auth, JobFailure.For(1434).Kind);
        Assert.Contains("mediaconvert.amazonaws.com", JobFailure.For(1434).Remedy);
        Assert.Equal(ErrorKind.InvalidInput, JobFailure.For(1030).Kind);
        Assert.Contains("does not know", JobFailure.For(4242).Meaning);
    }
}
