using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using CioSegment.Processor.Cli;

namespace CioSegment.UnitTests;

/// <summary>The <c>map</c> command: exit codes and output as README ("Previewing the mapping") describes them.</summary>
public class MapCommandTests
{
    private static (int Exit, string Stdout, string Stderr) Run(string stdin, params string[] args)
    {
        var stdout = new MemoryStream();
        var stdoutText = new StringWriter();
        var stderr = new StringWriter();
        var exit = ProcessorCommandLine.Run(["map", .. args], () => new MemoryStream(Encoding.UTF8.GetBytes(stdin)), stdout, stdoutText, stderr);
        return (exit, Encoding.UTF8.GetString(stdout.ToArray()) + stdoutText, stderr.ToString());
    }

    [Fact]
    public void Mapped_prints_the_track_json_and_exits_0()
    {
        var (exit, stdout, stderr) = Run(Mapping.Webhook("email", "sent", d => d["content"] = "hi").ToJsonString(), "--body-content", "--send-back");
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        var track = JsonNode.Parse(stdout)!;
        Assert.Equal("Email Sent", (string?)track["event"]);
        Assert.Equal("hi", (string?)track["properties"]!["content"]);
        Assert.True((bool)track["integrations"]!["Customer.io"]!);
        Assert.EndsWith("\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Received_at_is_used_when_the_timestamp_is_invalid()
    {
        var webhook = Mapping.Webhook();
        webhook["timestamp"] = "abc";
        var (exit, stdout, _) = Run(webhook.ToJsonString(), "--received-at", "2021-06-16T13:05:39.605Z");
        Assert.Equal(0, exit);
        Assert.Equal("2021-06-16T13:05:39.605Z", (string?)JsonNode.Parse(stdout)!["timestamp"]);
    }

    [Fact]
    public void Unmappable_input_exits_2_with_reason_and_detail_on_stderr()
    {
        var (exit, stdout, stderr) = Run("""{"object_type":"email","metric":"sent","data":{}}""");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var error = JsonNode.Parse(stderr)!.AsObject();
        Assert.Equal("no_person_identifier", (string?)error["reason"]);
        Assert.False(string.IsNullOrEmpty((string?)error["detail"]));
        Assert.Equal(["reason", "detail"], error.Select(p => p.Key).ToArray());

        var (badExit, _, badStderr) = Run("not json");
        Assert.Equal(2, badExit);
        Assert.Equal("invalid_json", (string?)JsonNode.Parse(badStderr)!["reason"]);
    }

    [Fact]
    public void Skipped_by_settings_exits_3_with_nothing_on_stdout()
    {
        var (exit, stdout, stderr) = Run(Mapping.Webhook("sms", "sent").ToJsonString(), "--version", "1");
        Assert.Equal(3, exit);
        Assert.Equal("", stdout);
        Assert.Contains("version1_non_email", stderr, StringComparison.Ordinal);

        var (notEnabled, _, _) = Run(Mapping.Webhook("sms", "sent").ToJsonString(), "--enabled-events", "email.*");
        Assert.Equal(3, notEnabled);
    }

    [Theory]
    [InlineData("--version", "3")]
    [InlineData("--received-at", "yesterday")]
    [InlineData("--enabled-events", "email")]
    [InlineData("--no-such-flag")]
    public void A_bad_command_line_exits_1(params string[] args)
    {
        var (exit, stdout, stderr) = Run(Mapping.Webhook().ToJsonString(), args);
        Assert.Equal(1, exit);
        Assert.DoesNotContain("\"type\"", stdout, StringComparison.Ordinal);
        Assert.NotEqual("", stderr);
    }

    [Fact]
    public void The_built_processor_maps_from_real_standard_input()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "CioSegment.Processor.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, "map", "--version", "2" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(Mapping.Webhook("webhook", "sent").ToJsonString());
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000));
        Assert.True(process.ExitCode == 0, stderr);
        Assert.Equal("Webhook Sent", (string?)JsonNode.Parse(stdout)!["event"]);
    }
}
