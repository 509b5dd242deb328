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
    /// profile in use: a role profile with a <c>source_profile</c> assumes the role with that profile's credentials (as
    /// the SDK does); anything else is AssumeRoleWithWebIdentity, which is unsigned (the token is the proof).
    /// </summary>
    private static AWSCredentials StsCredentials()
    {
        var profiles = new CredentialProfileStoreChain();
        var name = Environment.GetEnvironmentVariable("AWS_PROFILE") is { Length: > 0 } p ? p : "default";
        if (profiles.TryGetProfile(name, out var profile) && profile.Options.RoleArn is { Length: > 0 }
            && profile.Options.WebIdentityTokenFile is not { Length: > 0 }
            && profile.Options.SourceProfile is { Length: > 0 } source && profiles.TryGetAWSCredentials(source, out var credentials))
            return credentials;
        return new AnonymousAWSCredentials();
    }
}
