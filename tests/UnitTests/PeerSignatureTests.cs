using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CioSegment.Contracts;

namespace CioSegment.UnitTests;

/// <summary>
/// Our signatures against Customer.io's own check (customerio-node's <c>verifyRequestSignature</c>),
/// installed by <c>.ci/run</c> with <c>npm ci --prefix tests/peers</c>.
/// </summary>
public class PeerSignatureTests
{
    [Fact]
    public void Customer_io_sdk_accepts_our_signatures_and_rejects_tampered_ones()
    {
        var script = Path.Combine(RepositoryPaths.Root, "tests", "peers", "verify-signature.js");
        var module = Path.Combine(RepositoryPaths.Root, "tests", "peers", "node_modules", "customerio-node");
        if (!Directory.Exists(module))
        {
            Assert.Skip($"customerio-node is not installed at {module}; run 'npm ci --prefix tests/peers' (.ci/run does).");
        }

        var key = "whsec_\u00e9-key";
        var bodies = new[]
        {
            Mapping.Webhook().ToJsonString(),
            """{"event_id":"e","object_type":"sms","metric":"sent","data":{"content":"caf\u00e9 \ud83d\ude00 \"quoted\""}}""",
            "",
            new string('x', 100_000),
        };

        var cases = new List<(string Line, bool Expected)>();
        foreach (var body in bodies)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            var timestamp = "1700000000";
            var signature = WebhookSignature.Sign(Encoding.UTF8.GetBytes(key), timestamp, bytes);
            Assert.True(WebhookSignature.Verify(Encoding.UTF8.GetBytes(key), timestamp, bytes, signature));
            cases.Add((Line(key, timestamp, signature, bytes), true));
            cases.Add((Line(key, "1700000001", signature, bytes), false));
            cases.Add((Line("other-key", timestamp, signature, bytes), false));
            cases.Add((Line(key, timestamp, signature, [.. bytes, (byte)' ']), false));
        }

        var start = new ProcessStartInfo("node", [script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(script)!,
        };
        using var node = Process.Start(start)!;
        node.StandardInput.Write(string.Join("\n", cases.Select(c => c.Line)) + "\n");
        node.StandardInput.Close();
        var output = node.StandardOutput.ReadToEnd();
        var errors = node.StandardError.ReadToEnd();
        Assert.True(node.WaitForExit(60_000));
        Assert.True(node.ExitCode == 0, errors);

        var answers = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(cases.Count, answers.Length);
        for (var i = 0; i < cases.Count; i++)
        {
            Assert.Equal(cases[i].Expected ? "true" : "false", answers[i]);
        }
    }

    private static string Line(string key, string timestamp, string signature, byte[] body) =>
        JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["signingSecret"] = key,
            ["timestamp"] = timestamp,
            ["signature"] = signature,
            ["bodyBase64"] = Convert.ToBase64String(body),
        });
}
