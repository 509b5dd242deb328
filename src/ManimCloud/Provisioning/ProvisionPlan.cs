using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Provisioning;

/// <summary>What provisioning does to one setting of one resource.</summary>
public enum StepAction
{
    /// <summary>The setting already matches; nothing is written.</summary>
    Unchanged,
    /// <summary>The resource does not exist yet; it (or this setting of it) is created.</summary>
    Create,
    /// <summary>The resource exists but this setting differs; it is brought into line.</summary>
    Update,
    /// <summary>The setting differs and cannot be fixed in place; <see cref="ProvisionStep.Note"/> says what to do.</summary>
    Blocked,
    /// <summary>
    /// An S3-compatible store refused the setting as one it does not support (Ceph RGW: default encryption without a
    /// KMS backend); skipped, not fatal. <see cref="ProvisionStep.Note"/> says what that means for the deployment.
    /// </summary>
    Unsupported,
}

/// <summary>
/// One setting of one resource: what it is now, what it should be, and what provisioning does about it.
/// Values are compared in normalised form (JSON policies and lifecycle rules canonicalised), so an applied
/// setting reads back equal and the next run reports it unchanged.
/// </summary>
public sealed record ProvisionStep(string Resource, string Setting, string Current, string Desired, StepAction Action, string? Note = null)
{
    /// <summary>Set by <see cref="Provisioner.ApplyAsync"/>: the change was written.</summary>
    public bool Applied { get; init; }

    /// <summary>Set after apply: whether reading the setting back now shows the desired value (null when not applied).</summary>
    public bool? Converged { get; init; }

    /// <summary>The failure that stopped this step, with its fix.</summary>
    public string? Error { get; init; }

    public bool WouldChange => Action is StepAction.Create or StepAction.Update;

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["resource"] = Resource,
            ["setting"] = Setting,
            ["current"] = Current,
            ["desired"] = Desired,
            ["action"] = Action.ToString().ToLowerInvariant(),
        };
        if (Note is not null) o["note"] = Note;
        if (Applied) o["applied"] = true;
        if (Converged is { } c) o["converged"] = c;
        if (Error is not null) o["error"] = Error;
        return o;
    }
}

/// <summary>
/// The result of <see cref="Provisioner.PlanAsync"/> (what would change; nothing written) or
/// <see cref="Provisioner.ApplyAsync"/> (what was changed), plus the least-privilege IAM policy for the deployment.
/// </summary>
public sealed class ProvisionPlan(
    string environment, string region, ProvisionNames names, bool applied, IReadOnlyList<ProvisionStep> steps, JsonObject iamPolicy)
{
    public string Environment => environment;
    public string Region => region;
    public ProvisionNames Names => names;

    /// <summary>False for a plan (dry run: nothing written), true for the outcome of an apply.</summary>
    public bool Applied => applied;

    public IReadOnlyList<ProvisionStep> Steps => steps;

    /// <summary>The least-privilege IAM policy (SPEC R8) for the runtime that uses these resources.</summary>
    public JsonObject IamPolicy => iamPolicy;

    /// <summary>The workspace config file the provisioned names were recorded in, after a complete apply.</summary>
    public string? SavedConfigPath { get; init; }

    /// <summary>Whether the S3 store evaluates bucket-policy conditions: "evaluated" (AWS), "not-evaluated" (moto), or
    /// "probe" (not known yet: apply finds out).</summary>
    public string PolicyConditions { get; init; } = "evaluated";

    /// <summary>ManimCloud's bucket-policy statements this store does not get, each with why (empty on AWS).</summary>
    public IReadOnlyList<PolicyOmission> LeftOut { get; init; } = [];

    /// <summary>For a plan: the steps that would write. For an apply: the steps that were written.</summary>
    public int Changed => applied ? steps.Count(s => s.Applied) : steps.Count(s => s.WouldChange);

    /// <summary>Steps that cannot be fixed in place; each one's note says what to do.</summary>
    public int Blocked => steps.Count(s => s.Action == StepAction.Blocked);

    /// <summary>Settings the store does not support (skipped; each one's note says what that means).</summary>
    public int Unsupported => steps.Count(s => s.Action == StepAction.Unsupported);

    /// <summary>Applied steps whose read-back still differs (the store ignored the change, or has not caught up yet).</summary>
    public int NotConverged => steps.Count(s => s.Converged == false);

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["environment"] = environment,
            ["region"] = region,
            ["video_bucket"] = names.VideoBucket,
            ["code_bucket"] = names.CodeBucket,
            ["table"] = names.Table,
            ["queue"] = names.Queue,
            ["dry_run"] = !applied,
            ["changed"] = Changed,
            ["blocked"] = Blocked,
            ["unsupported"] = Unsupported,
            ["not_converged"] = NotConverged,
            ["steps"] = new JsonArray(steps.Select(s => (JsonNode)s.ToJson()).ToArray()),
            ["iam_policy"] = iamPolicy.DeepClone(),
            ["policy_conditions"] = PolicyConditions,
            ["left_out"] = new JsonArray(LeftOut.Select(o => (JsonNode)o.ToJson()).ToArray()),
        };
        if (SavedConfigPath is not null) json["config_saved"] = SavedConfigPath;
        return json;
    }

    /// <summary>A table a person reads: one line per step, changes marked, long values abbreviated (use ToJson for all of it).</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        sb.AppendLine(applied
            ? $"Provisioned environment '{environment}' in {region}: {Changed} change(s) applied, {Blocked} blocked"
                + (Unsupported > 0 ? $", {Unsupported} not supported by the store (skipped)." : ".")
            : $"Plan for environment '{environment}' in {region} (dry run, nothing written): {Changed} change(s), {Blocked} blocked.");
        var resourceWidth = steps.Count == 0 ? 0 : steps.Max(s => s.Resource.Length);
        var settingWidth = steps.Count == 0 ? 0 : steps.Max(s => s.Setting.Length);
        foreach (var s in steps)
        {
            var mark = s.Action switch
            {
                StepAction.Unchanged => "  ",
                StepAction.Blocked => "!!",
                StepAction.Unsupported => "--",
                _ => s.Applied ? "* " : "+ ",
            };
            var what = s.Action == StepAction.Unchanged
                ? $"{Abbreviate(s.Current)} (unchanged)"
                : $"{Abbreviate(s.Current)} -> {Abbreviate(s.Desired)} [{s.Action.ToString().ToLowerInvariant()}{(s.Applied ? ", done" : "")}]";
            sb.Append(mark).Append(s.Resource.PadRight(resourceWidth)).Append("  ").Append(s.Setting.PadRight(settingWidth)).Append("  ").AppendLine(what);
            if (s.Note is not null && s.Action != StepAction.Unchanged) sb.Append("    note: ").AppendLine(s.Note);
            if (s.Converged == false) sb.AppendLine("    warning: the setting was written but still reads back differently.");
            if (s.Error is not null) sb.Append("    error: ").AppendLine(s.Error);
        }
        if (LeftOut.Count > 0)
        {
            sb.AppendLine("Left out of the bucket policies on this store (on AWS every statement is kept):");
            foreach (var o in LeftOut) sb.Append("  ").Append(o.Resource).Append(' ').Append(o.Statement).Append(": ").AppendLine(o.Reason);
        }
        if (SavedConfigPath is not null) sb.AppendLine($"Names recorded in {SavedConfigPath}.");
        sb.AppendLine("Least-privilege IAM policy for the ManimCloud runtime:");
        sb.AppendLine(iamPolicy.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return sb.ToString();
    }

    public override string ToString() => ToText();

    private static string Abbreviate(string value) => value.Length <= 100 ? value : value[..60] + "… (see --json)";
}

/// <summary>The names of the resources of one deployment.</summary>
/// <param name="Queue">The pipeline's job queue, when provisioned (MANIMCLOUD_QUEUE set, or `provision --queue`).</param>
public sealed record ProvisionNames(string VideoBucket, string CodeBucket, string Table, string? Queue = null);

/// <summary>
/// Apply could not finish: a step failed or cannot be fixed in place. Everything else was still applied;
/// <see cref="Plan"/> says what was done and what is left, each blocked step with its fix.
/// </summary>
public sealed class ProvisioningIncompleteException(ErrorKind kind, string message, string hint, ProvisionPlan plan, Exception? inner = null)
    : ManimCloudException(kind, message, hint, inner)
{
    public ProvisionPlan Plan => plan;
}
