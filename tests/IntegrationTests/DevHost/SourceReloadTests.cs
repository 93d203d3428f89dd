using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using CioSegment.DevDoubles.Segment;

namespace CioSegment.IntegrationTests.DevHost;

/// <summary>
/// Sources added, changed and removed in a running DevHost through a settings directory laid out as the
/// kubelet lays out a mounted Secret or ConfigMap: each key a symbolic link into <c>..data</c>, itself a
/// link swapped atomically to a new timestamped directory on every update.
/// </summary>
public sealed class SourceReloadTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_source_added_by_a_file_change_is_accepted_within_seconds_a_bad_change_keeps_it_and_removing_it_refuses_it()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var volume = new KubeletVolume();
        await using var segment = await SegmentStandIn.StartAsync(new SegmentStandInOptions { KeepRequests = true });
        await using var devHost = await DevHostProcess.StartAsync(
            "--CioSegment:DevHost:TailTopics=false",
            $"--CioSegment:SettingsDirectories={volume.Path}",
            "--CioSegment:SourceCatalog:RemovedSourceGrace=00:00:00");
        using var http = new HttpClient { BaseAddress = devHost.BaseAddress };
        var sent = 0;

        Assert.Equal(HttpStatusCode.NotFound, await SendAsync(http, "late", "late-signing", sent++, cancel));

        volume.Write(new()
        {
            ["CioSegment__Sources__late__WebhookSigningKey"] = "late-signing\n",
            ["CioSegment__Sources__late__WriteKey"] = "late-write",
            ["CioSegment__Sources__late__SegmentEndpoint"] = segment.Url.ToString(),
        });
        var clock = Stopwatch.StartNew();
        while (await SendAsync(http, "late", "late-signing", sent++, cancel) != HttpStatusCode.OK)
        {
            Assert.True(clock.Elapsed < Within, $"the added source was not accepted within {Within}");
            await Task.Delay(200, cancel);
        }

        var accepted = clock.Elapsed;
        TestContext.Current.TestOutputHelper?.WriteLine($"added source accepted {accepted.TotalSeconds:F1} s after the volume changed");
        await WaitAsync(() => segment.Requests.Any(r => r.WriteKey == "late-write" && r.Status == 200), "a batch with the new source's write key", cancel);
        await devHost.WaitForLineAsync(l => l.Contains("Sources changed: added [late]", StringComparison.Ordinal), Within);

        // An invalid change is refused as a whole; the source keeps working with its last good settings.
        volume.Write(new()
        {
            ["CioSegment__Sources__late__WebhookSigningKey"] = "late-signing",
            ["CioSegment__Sources__late__WriteKey"] = "late-write",
            ["CioSegment__Sources__late__SegmentEndpoint"] = segment.Url.ToString(),
            ["CioSegment__Sources__late__Region"] = "asia",
        });
        await devHost.WaitForLineAsync(l => l.Contains("CioSegment:Sources:late:Region", StringComparison.Ordinal), Within);
        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, "late", "late-signing", sent++, cancel));

        // A rotated signing key applies without a restart: the old one is refused.
        volume.Write(new()
        {
            ["CioSegment__Sources__late__WebhookSigningKey"] = "rotated-signing",
            ["CioSegment__Sources__late__WriteKey"] = "late-write",
            ["CioSegment__Sources__late__SegmentEndpoint"] = segment.Url.ToString(),
        });
        clock.Restart();
        while (await SendAsync(http, "late", "rotated-signing", sent++, cancel) != HttpStatusCode.OK)
        {
            Assert.True(clock.Elapsed < Within, $"the rotated key was not applied within {Within}");
            await Task.Delay(200, cancel);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"rotated key applied after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(http, "late", "late-signing", sent++, cancel));

        volume.Write([]);
        clock.Restart();
        while (await SendAsync(http, "late", "rotated-signing", sent++, cancel) != HttpStatusCode.NotFound)
        {
            Assert.True(clock.Elapsed < Within, $"the removed source was still accepted after {Within}");
            await Task.Delay(200, cancel);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"removed source refused after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(HttpStatusCode.OK, await SendAsync(http, "demo", "demo-signing-key", sent++, cancel));   // the other sources never stopped
        Assert.True(accepted < TimeSpan.FromSeconds(15), $"accepted after {accepted}");   // two 4 s polls at most, with room for a busy machine
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient http, string source, string signingKey, int n, CancellationToken cancel)
    {
        var body = Encoding.UTF8.GetBytes(
            "{\"event_id\":\"reload-" + n + "\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1700000000,"
            + "\"data\":{\"delivery_id\":\"d" + n + "\",\"identifiers\":{\"id\":\"person-1\"}}}");
        return await SignedWebhooks.PostAsync(http, source, signingKey, body, cancel);
    }

    private static async Task WaitAsync(Func<bool> done, string what, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(clock.Elapsed < Within, $"no {what} within {Within}");
            await Task.Delay(100, cancel);
        }
    }

    /// <summary>A directory updated as the kubelet's atomic writer updates a Secret or ConfigMap volume.</summary>
    private sealed class KubeletVolume : IDisposable
    {
        private int _version;

        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ciosegment-volume-" + Guid.NewGuid().ToString("N"));

        public KubeletVolume()
        {
            Directory.CreateDirectory(Path);
            Write([]);
        }

        /// <summary>The volume's new content: a new timestamped directory, ..data swapped to it, one link per key.</summary>
        public void Write(Dictionary<string, string> files)
        {
            var version = $"..2026_01_01_00_00_{++_version:00}.{Environment.ProcessId}";
            var directory = System.IO.Path.Combine(Path, version);
            Directory.CreateDirectory(directory);
            foreach (var (name, content) in files)
            {
                File.WriteAllText(System.IO.Path.Combine(directory, name), content);
            }

            var temporary = System.IO.Path.Combine(Path, "..data_tmp");
            File.CreateSymbolicLink(temporary, version);
            if (Rename(temporary, System.IO.Path.Combine(Path, "..data")) != 0)   // atomic, and of the link itself
            {
                throw new IOException($"rename failed: errno {Marshal.GetLastPInvokeError()}");
            }
            foreach (var name in files.Keys)
            {
                var link = System.IO.Path.Combine(Path, name);
                if (!File.Exists(link))
                {
                    File.CreateSymbolicLink(link, System.IO.Path.Combine("..data", name));
                }
            }

            foreach (var entry in Directory.EnumerateFileSystemEntries(Path))
            {
                var name = System.IO.Path.GetFileName(entry);
                if (name.StartsWith("..", StringComparison.Ordinal) && name != "..data" && name != version)
                {
                    Directory.Delete(entry, recursive: true);
                }
                else if (!name.StartsWith("..", StringComparison.Ordinal) && !files.ContainsKey(name))
                {
                    File.Delete(entry);
                }
            }
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);

        [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
        private static extern int Rename(string oldPath, string newPath);
    }
}
