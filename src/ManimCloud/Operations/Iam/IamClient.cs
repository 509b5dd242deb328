using System.Text.Json.Nodes;
using System.Xml.Linq;
using ManimCloud.Aws;

namespace ManimCloud.Operations.Iam;

/// <summary>An IAM access key as CreateAccessKey returns it. The secret is shown once and never logged.</summary>
public sealed record IamAccessKey(string AccessKeyId, string SecretAccessKey)
{
    public override string ToString() => $"IamAccessKey {AccessKeyId} (secret not shown)";
}

/// <summary>The IAM calls ManimCloud makes: attach its role policies to users and roles (no IAM SDK package is in the
/// registry here; the official one can replace <see cref="IamClient"/> behind this interface).</summary>
public interface IIamClient
{
    Task CreateUserAsync(string userName, CancellationToken ct);
    Task PutUserPolicyAsync(string userName, string policyName, JsonObject document, CancellationToken ct);
    Task PutRolePolicyAsync(string roleName, string policyName, JsonObject document, CancellationToken ct);
    Task<IamAccessKey> CreateAccessKeyAsync(string userName, CancellationToken ct);
    Task<string> GetUserArnAsync(string? userName, CancellationToken ct);
}

/// <summary>IAM over the shared signed client (query protocol, API 2010-05-08): retries, endpoints and errors as every AWS call.</summary>
public sealed class IamClient(AwsHttpService service) : IIamClient
{
    private const string Version = "2010-05-08";

    public static IamClient Create(AwsClients aws) => new(aws.Service(AwsServiceDescription.Iam));

    public Task CreateUserAsync(string userName, CancellationToken ct) =>
        service.QueryAsync("CreateUser", Version, [new("UserName", userName)], ct);

    public Task PutUserPolicyAsync(string userName, string policyName, JsonObject document, CancellationToken ct) =>
        service.QueryAsync("PutUserPolicy", Version,
            [new("UserName", userName), new("PolicyName", policyName), new("PolicyDocument", document.ToJsonString())], ct);

    public Task PutRolePolicyAsync(string roleName, string policyName, JsonObject document, CancellationToken ct) =>
        service.QueryAsync("PutRolePolicy", Version,
            [new("RoleName", roleName), new("PolicyName", policyName), new("PolicyDocument", document.ToJsonString())], ct);

    public async Task<IamAccessKey> CreateAccessKeyAsync(string userName, CancellationToken ct)
    {
        var root = await service.QueryAsync("CreateAccessKey", Version, [new("UserName", userName)], ct);
        return new IamAccessKey(Value(root, "AccessKeyId"), Value(root, "SecretAccessKey"));
    }

    public async Task<string> GetUserArnAsync(string? userName, CancellationToken ct)
    {
        var root = await service.QueryAsync("GetUser", Version, userName is null ? [] : [new("UserName", userName)], ct);
        return Value(root, "Arn");
    }

    private static string Value(XElement root, string name) =>
        root.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value
        ?? throw new InvalidOperationException($"IAM's answer has no {name}.");
}
