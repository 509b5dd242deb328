using ManimCloud.Tests.Support;

namespace ManimCloud.Tests.Cli;

/// <summary>
/// Credentials the default chain gets from STS — a web identity token (EKS, CI OIDC) and a profile that assumes a role
/// from a source profile — with no keys in the environment. The SDK reaches STS through a client it loads at run time
/// (by reflection; the Native AOT CLI registers it instead), so this is where a missing package or registration shows.
/// </summary>
public class CredentialChainTests
{
    private static async Task<(TestCloud Cloud, TempDir Home, Dictionary<string, string> Env)> WithoutKeysAsync()
    {
        var cloud = await TestCloud.CreateAsync();
        var home = new TempDir();
        var env = cloud.Environment(home.Path);
        env.Remove("AWS_ACCESS_KEY_ID");
        env.Remove("AWS_SECRET_ACCESS_KEY");
        // Nothing from the developer's ~/.aws either.
        env["AWS_CONFIG_FILE"] = home.File("aws-config");
        env["AWS_SHARED_CREDENTIALS_FILE"] = home.File("aws-credentials");
        File.WriteAllText(env["AWS_CONFIG_FILE"], "");
        File.WriteAllText(env["AWS_SHARED_CREDENTIALS_FILE"], "");
        return (cloud, home, env);
    }

    private static void StoresCodeInTheCloud(Dictionary<string, string> env, TempDir home)
    {
        var created = CliRunner.Run(env, "video", "create", "--project", "creds", "--title", "t", "--json");
        Assert.True(created.ExitCode == 0, created.Stderr);
        File.WriteAllText(home.File("scene.py"), "from manim import *\n");
        var put = CliRunner.Run(env, "code", "put", home.File("scene.py"), "--video", (string)created.Json["video_id"]!, "--require-cloud", "--json");
        Assert.True(put.ExitCode == 0, put.Stderr);
        Assert.True((bool)put.Json["synced"]!);
    }

    [Fact]
    public async Task A_web_identity_token_and_role_are_enough()
    {
        var (_, home, env) = await WithoutKeysAsync();
        using var _ = home;
        File.WriteAllText(home.File("token"), "eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl");
        env["AWS_WEB_IDENTITY_TOKEN_FILE"] = home.File("token");
        env["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/renderer";
        env["AWS_ROLE_SESSION_NAME"] = "render-worker-1";
        StoresCodeInTheCloud(env, home);
    }

    /// <summary>Profiles: "renderer" assumes a role with the keys of "base"; "chained" assumes one from "renderer".</summary>
    private static void WriteRoleProfiles(Dictionary<string, string> env)
    {
        File.WriteAllText(env["AWS_CONFIG_FILE"], """
            [profile base]
            region = us-east-1
            [profile renderer]
            role_arn = arn:aws:iam::123456789012:role/renderer
            source_profile = base
            region = us-east-1
            [profile chained]
            role_arn = arn:aws:iam::123456789012:role/uploader
            source_profile = renderer
            region = us-east-1
            """);
        File.WriteAllText(env["AWS_SHARED_CREDENTIALS_FILE"], """
            [base]
            aws_access_key_id = testing
            aws_secret_access_key = testing
            """);
    }

    [Fact]
    public async Task A_profile_that_assumes_a_role_from_a_source_profile_is_enough()
    {
        var (_, home, env) = await WithoutKeysAsync();
        using var _ = home;
        WriteRoleProfiles(env);
        env["AWS_PROFILE"] = "renderer";
        StoresCodeInTheCloud(env, home);
    }

    /// <summary>
    /// A role assumed from another role: the SDK follows the chain with a JIT runtime; the Native AOT build cannot tell
    /// which link asks for STS, and says so with the way out instead of signing with the wrong credentials.
    /// </summary>
    [Fact]
    public async Task A_chain_of_roles_works_with_the_jit_cli_and_is_refused_clearly_by_the_native_one()
    {
        var (_, home, env) = await WithoutKeysAsync();
        using var _ = home;
        WriteRoleProfiles(env);
        env["AWS_PROFILE"] = "chained";
        if (CliRunner.NativeCli is null)
        {
            StoresCodeInTheCloud(env, home);
            return;
        }
        var r = CliRunner.Run(env, "video", "create", "--project", "creds", "--title", "t");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Profile 'chained' assumes its role from profile 'renderer', itself a role", r.Stderr);
        Assert.Contains("MANIMCLOUD_BUILD=r2r", r.Stderr);
    }
}
