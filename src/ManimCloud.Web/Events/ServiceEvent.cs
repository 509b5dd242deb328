using System.Text.Json.Nodes;
using ManimCloud.Domain;

namespace ManimCloud.Web.Events;

/// <summary>
/// A change the service tells subscribers about (SSE, webhooks): <c>video.created</c>, <c>video.updated</c>,
/// <c>video.status_changed</c>, and jobs' <c>job.status_changed</c>. <see cref="Seq"/> orders them within one service
/// run and is the SSE event id (Last-Event-ID resumes after it).
/// </summary>
public sealed record ServiceEvent(long Seq, string Type, ProjectId Project, DateTimeOffset At, JsonObject Data)
{
    public JsonObject ToJson() => new()
    {
        ["seq"] = Seq, ["type"] = Type, ["project_id"] = Project.ToString(), ["at"] = At.ToString("O"), ["data"] = Data.DeepClone(),
    };
}
