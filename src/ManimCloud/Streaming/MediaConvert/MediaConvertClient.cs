using System.Net.Http.Headers;
using System.Text;
using ManimCloud.Aws;

namespace ManimCloud.Streaming.MediaConvert;

/// <summary>
/// MediaConvert over the shared signed HTTP client (<see cref="AwsHttpService"/>: SigV4 from the default credential
/// chain, the regional endpoint or AWS_ENDPOINT_URL_MEDIACONVERT, the one retry pipeline). Error answers arrive as
/// AmazonServiceException with the service's code (BadRequestException, ForbiddenException, NotFoundException,
/// ConflictException, TooManyRequestsException, InternalServerErrorException), which AwsErrors classifies.
/// </summary>
public sealed class MediaConvertClient(AwsHttpService service) : IMediaConvertClient
{
    private const string Jobs = "2017-08-29/jobs";

    public async Task<MediaConvertJob> CreateJobAsync(CreateJobRequest request, CancellationToken ct)
    {
        var body = request.ToJson().ToJsonString();
        // Every attempt sends the same body, token included: a retry after a lost answer is the same job.
        var response = await service.SendAsync(() => new HttpRequestMessage(HttpMethod.Post, Jobs) { Content = Json(body) }, ct);
        return JobOf(response);
    }

    public async Task<MediaConvertJob> GetJobAsync(string jobId, CancellationToken ct)
    {
        var response = await service.SendAsync(() => new HttpRequestMessage(HttpMethod.Get, $"{Jobs}/{Uri.EscapeDataString(jobId)}"), ct);
        return JobOf(response);
    }

    public Task CancelJobAsync(string jobId, CancellationToken ct) =>
        service.SendAsync(() => new HttpRequestMessage(HttpMethod.Delete, $"{Jobs}/{Uri.EscapeDataString(jobId)}"), ct);

    private static StringContent Json(string body)
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static MediaConvertJob JobOf(AwsResponse response) =>
        MediaConvertJob.FromJson(response.Json()?["job"] ?? throw new FormatException($"MediaConvert answered without a job: {Truncate(response.Body)}"));

    private static string Truncate(string s) => s.Length <= 200 ? s : s[..200] + "…";
}
