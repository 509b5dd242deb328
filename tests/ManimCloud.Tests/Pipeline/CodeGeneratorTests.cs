using System.Text;
using ManimCloud.Domain;
using ManimCloud.Pipeline;
using ManimCloud.Resilience;

namespace ManimCloud.Tests.Pipeline;

/// <summary>Issue #12: the code generators and the validation every generated version passes before it is stored.</summary>
public class CodeGeneratorTests
{
    private const string Module = """
        from manim import *


        def helper():
            return Circle()


        class Intro(Scene):
            def construct(self):
                self.play(Create(helper()))
                self.wait(1)


        class Outro(Scene):
            def construct(self):
                self.play(FadeIn(Text("bye")))
        """;

    [Fact]
    public async Task Template_generator_writes_the_scenes_the_prompt_asks_for_and_they_validate()
    {
        var generated = await new TemplateCodeGenerator().GenerateAsync(new CodeRequest("The theorem in six scenes", "Pythagoras"), null, default);
        var valid = await CodeValidation.ValidateAsync(Encoding.UTF8.GetBytes(generated.Code), "generated", default);
        Assert.Equal(["Intro", "Shapes", "Formula", "Graph", "Motion", "Summary"], valid.Scenes.Scenes.Select(s => s.Name));
        Assert.True(valid.SyntaxChecked, "python3 is on this machine, so py_compile ran");
        var again = await new TemplateCodeGenerator().GenerateAsync(new CodeRequest("The theorem in six scenes", "Pythagoras"), null, default);
        Assert.Equal(generated.Code, again.Code); // deterministic
    }

    [Fact]
    public async Task Template_edit_changes_exactly_the_scene_the_prompt_names()
    {
        var v1 = (await new TemplateCodeGenerator().GenerateAsync(new CodeRequest("in four scenes", "T"), null, default)).Code;
        var v2 = (await new TemplateCodeGenerator().GenerateAsync(new CodeRequest("scene 2: say \"hello\" \\ twice", "T", v1, 1), null, default)).Code;
        var before = ManimScenes.Parse(v1);
        var after = ManimScenes.Parse(v2);
        await CodeValidation.ValidateAsync(Encoding.UTF8.GetBytes(v2), "edited", default);
        Assert.Equal(before.SharedSource, after.SharedSource);
        var changed = before.Scenes.Zip(after.Scenes).Where(p => p.First.Source != p.Second.Source).Select(p => p.First.Number).ToList();
        Assert.Equal([2], changed);
        // Without a scene named, the last one changes.
        var v3 = (await new TemplateCodeGenerator().GenerateAsync(new CodeRequest("add a closing remark", "T", v2, 2), null, default)).Code;
        Assert.Equal([4], after.Scenes.Zip(ManimScenes.Parse(v3).Scenes).Where(p => p.First.Source != p.Second.Source).Select(p => p.First.Number));
    }

    [Fact]
    public void Scenes_are_found_as_Manim_finds_them_and_bases_are_shared_source()
    {
        var parsed = ManimScenes.Parse("""
            from manim import *

            class Base(Scene):
                def setup(self):
                    self.camera.background_color = WHITE

            class One(Base):
                def construct(self):
                    self.wait()

            class NotAScene:
                pass

            class Two(MovingCameraScene):
                def construct(self):
                    self.wait(2)
            """);
        Assert.Equal(["One", "Two"], parsed.Scenes.Select(s => s.Name));
        Assert.Contains("class Base(Scene):", parsed.SharedSource);
        Assert.DoesNotContain("class One", parsed.SharedSource);
    }

    [Theory]
    [InlineData("not utf8", "not valid UTF-8")]
    [InlineData("syntax", "not valid Python")]
    [InlineData("no scene", "no Scene subclass")]
    [InlineData("empty", "is empty")]
    public async Task Invalid_code_is_refused_with_what_is_wrong(string kind, string expected)
    {
        var bytes = kind switch
        {
            "not utf8" => [0x63, 0x6c, 0xff, 0xfe],
            "syntax" => Encoding.UTF8.GetBytes("from manim import *\nclass A(Scene):\n    def construct(self)\n        pass\n"),
            "no scene" => Encoding.UTF8.GetBytes("from manim import *\nx = 1\n"),
            _ => Array.Empty<byte>(),
        };
        var e = await Assert.ThrowsAsync<ManimCloudException>(() => CodeValidation.ValidateAsync(bytes, "The code", default));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public async Task Chat_generator_gets_a_canned_completion_from_an_OpenAI_compatible_endpoint()
    {
        using var server = new LoopbackChatServer();
        server.Enqueue(new LoopbackChatServer.Completion($"Here you go:\n```python\n{Module}\n```\nEnjoy."));
        var result = await new ChatCodeGenerator(new OpenAiChatClient(new Uri(server.Endpoint), "test-model", "sk-test-secret"), "test-model") { Stream = false }
            .GenerateAsync(new CodeRequest("a circle", "Circles"), null, default);
        Assert.Equal(Module.Trim() + "\n", result.Code);
        Assert.Equal("llm:test-model", result.Author);
        Assert.True(server.Requests.TryDequeue(out var request));
        Assert.Equal("Bearer sk-test-secret", request.Authorization);
        Assert.Equal("test-model", (string?)request.Body["model"]);
        Assert.Contains("a circle", request.Body.ToJsonString());
    }

    [Fact]
    public async Task Chat_generator_streams_and_edits_with_the_current_code_in_the_request()
    {
        using var server = new LoopbackChatServer();
        var answer = "```python\n" + Module.Replace("bye", "goodbye") + "\n```";
        server.Enqueue(new LoopbackChatServer.Streamed(Enumerable.Range(0, (answer.Length + 19) / 20).Select(i => answer.Substring(i * 20, Math.Min(20, answer.Length - i * 20))).ToList()));
        var seen = new StringBuilder();
        var result = await ChatCodeGenerator.ForEndpoint(server.Endpoint, "m", null)
            .GenerateAsync(new CodeRequest("say goodbye instead", "Circles", Module, 3), new Progress<string>(p => { lock (seen) seen.Append(p); }), default);
        Assert.Contains("goodbye", result.Code);
        Assert.True(server.Requests.TryDequeue(out var request));
        Assert.Null(request.Authorization); // no key configured: none sent
        Assert.True((bool)request.Body["stream"]!);
        Assert.Contains("class Outro(Scene)", (string?)request.Body["messages"]![1]!["content"]);
    }

    [Fact]
    public async Task Chat_generator_retries_transient_failures_and_names_a_refused_key_without_printing_it()
    {
        using var server = new LoopbackChatServer();
        server.Enqueue(new LoopbackChatServer.Failure(503, "overloaded"), new LoopbackChatServer.Streamed(["```python\n", "partial"], CutOff: true),
            new LoopbackChatServer.Completion("```python\n" + Module + "```"));
        var retry = new RetryPipeline(ChatCodeGenerator.Classify, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(10));
        var gen = new ChatCodeGenerator(new OpenAiChatClient(new Uri(server.Endpoint), "m", "k"), "m", retry);
        var ok = await gen.GenerateAsync(new CodeRequest("x", "T"), null, default);
        Assert.Contains("class Intro(Scene)", ok.Code);
        Assert.Equal(3, server.Requests.Count); // 503, a stream cut off mid-way, then the answer

        server.Enqueue(new LoopbackChatServer.Failure(401, "Incorrect API key provided: sk-super-secret"));
        var e = await Assert.ThrowsAsync<ManimCloudException>(() =>
            new ChatCodeGenerator(new OpenAiChatClient(new Uri(server.Endpoint), "m", "sk-super-secret"), "m", retry).GenerateAsync(new CodeRequest("x", "T"), null, default));
        Assert.Equal(ErrorKind.Auth, e.Kind);
        Assert.Contains("OPENAI_API_KEY", e.Hint);
        Assert.DoesNotContain("sk-super-secret", e.Message + e.Hint);
    }
}
