using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.RuntimeDependencies;
using Amazon.SecurityToken;
using Amazon.SSO;
using Amazon.SSOOIDC;

namespace ManimCloud.Aws;

/// <summary>
/// The service clients the SDK's default credential chain needs for web identity and assume-role (STS) and for SSO
/// profiles. The SDK loads them by reflection, which the Native AOT build does not have; there they are registered
/// here, built the way the SDK builds them (the profile's region and proxy; the endpoint from AWS_ENDPOINT_URL…,
/// which the SDK config reads itself). With a JIT runtime nothing is registered: the SDK's own loading is used.
/// </summary>
internal static class CredentialDependencies
{
    private static int _registered;

    public static void EnsureRegistered()
    {
        if (RuntimeFeature.IsDynamicCodeSupported || Interlocked.Exchange(ref _registered, 1) == 1) return;
        var registry = GlobalRuntimeDependencyRegistry.Instance;
        registry.RegisterSecurityTokenServiceClient(context =>
        {
            var c = context.SecurityTokenServiceClientContextData;
            return new AmazonSecurityTokenServiceClient(StsCredentials(), Config(new AmazonSecurityTokenServiceConfig(), c.Region, c.ProxySettings));
        });
        // GetRoleCredentials and CreateToken are not SigV4-signed (an SSO access token authorises them).
        registry.RegisterSSOClient(context =>
        {
            var c = context.SSOClientContextData;
            return new AmazonSSOClient(new AnonymousAWSCredentials(), Config(new AmazonSSOConfig(), c.Region, c.ProxySettings));
        });
        registry.RegisterSSOOIDCClient(context =>
        {
            var c = context.SSOOIDCClientContextData;
            return new AmazonSSOOIDCClient(new AnonymousAWSCredentials(), Config(new AmazonSSOOIDCConfig(), c.Region, c.ProxySettings));
        });
    }

    private static T Config<T>(T config, RegionEndpoint region, System.Net.IWebProxy? proxy) where T : ClientConfig
    {
        config.RegionEndpoint = region;
        if (proxy is not null) config.SetWebProxy(proxy);
        return config;
    }

    /// <summary>
    /// What the STS call is signed with. The registry's context does not say which provider asks, so this follows the
    /// profile in use (AWS_PROFILE, else "default"): web identity (from the environment or a profile) is unsigned, the
    /// token being the proof; a role profile whose <c>source_profile</c> holds keys or SSO assumes the role with that
    /// profile's credentials, as the SDK does. A role assumed from another role or from a <c>credential_source</c> is
    /// refused with the way out, rather than signed with the wrong credentials (or, for a chain, asking itself).
    /// </summary>
    private static AWSCredentials StsCredentials()
    {
        var profiles = new CredentialProfileStoreChain();
        var name = Environment.GetEnvironmentVariable("AWS_PROFILE") is { Length: > 0 } p ? p : "default";
        if (!profiles.TryGetProfile(name, out var profile) || profile.Options.RoleArn is not { Length: > 0 }
            || profile.Options.WebIdentityTokenFile is { Length: > 0 })
            return new AnonymousAWSCredentials();
        if (profile.Options.SourceProfile is { Length: > 0 } source && profiles.TryGetProfile(source, out var sourceProfile)
            && sourceProfile.Options.RoleArn is not { Length: > 0 } && profiles.TryGetAWSCredentials(source, out var credentials))
            return credentials;
        var from = profile.Options.SourceProfile is { Length: > 0 } s ? $"profile '{s}', itself a role" : $"credential_source {profile.Options.CredentialSource}";
        throw new AmazonClientException(
            $"Profile '{name}' assumes its role from {from}, which the Native AOT build of manimcloud cannot follow. " +
            "Run it with MANIMCLOUD_BUILD=r2r (a ReadyToRun build), or give the profile a source_profile that holds keys or SSO.");
    }
}
