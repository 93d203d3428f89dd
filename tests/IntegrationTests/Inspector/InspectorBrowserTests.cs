using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using CioSegment.DevDoubles.Segment;
using CioSegment.IntegrationTests.DevHost;
using Microsoft.Playwright;

namespace CioSegment.IntegrationTests.Inspector;

/// <summary>
/// The inspector in real Chromium (Debian's <c>chromium</c>, driven by Playwright) against a DevHost: a mapped
/// webhook, a filtered one, a duplicate and an unmappable one are found by person and by event_id with the
/// right outcome, and a track event Segment refused is replayed from the dead-letter page once Segment takes
/// it, and seen delivered. The search page's screenshot is written to TestResults/inspector/.
/// </summary>
[Collection(nameof(LatencyCollection))]
public sealed class InspectorBrowserTests(ITestOutputHelper output)
{
    private const string Source = "shop";
    private const string SigningKey = "shop-signing-key";
    private const string MappedId = "01JBROWSERMAPPED0000000001";
    private const string FilteredId = "01JBROWSERFILTERED00000001";
    private const string BadId = "01JBROWSERBAD0000000000001";
    private const string RejectedId = "01JBROWSERREJECT0000000001";

    public static string? ChromiumPath => new[] { Environment.GetEnvironmentVariable("CHROMIUM_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
        .FirstOrDefault(p => !string.IsNullOrEmpty(p) && File.Exists(p));

    [Fact]
    public async Task Every_outcome_is_found_by_person_and_event_id_and_a_dead_letter_is_replayed_to_delivery_in_a_real_browser()
    {
        if (ChromiumPath is not { } chromium)
        {
            Assert.Skip("Chromium is not installed (Debian package chromium; .ci/run installs it), so the inspector's pages cannot be tested in a real browser.");
            return;
        }

        var cancel = TestContext.Current.CancellationToken;
        await using var segment = await SegmentStandIn.StartAsync(new SegmentStandInOptions { KeepRequests = true });
        var segmentTakesRejected = false;
        segment.Answer = request => ValueTask.FromResult(
            !Volatile.Read(ref segmentTakesRejected) && request.MessageIds.Any(m => m.Contains(RejectedId, StringComparison.Ordinal)) ? new SegmentAnswer(400) : SegmentAnswer.Ok);
        await using var devHost = await DevHostProcess.StartAsync(
            "--CioSegment:DevHost:TailTopics=false",
            $"--CioSegment:Sources:{Source}:WebhookSigningKey={SigningKey}",
            $"--CioSegment:Sources:{Source}:WriteKey=shop-write-key",
            $"--CioSegment:Sources:{Source}:SegmentEndpoint={segment.Url}",
            $"--CioSegment:Sources:{Source}:EnabledEvents:0=email.*");
        var inspectorLine = await devHost.WaitForLineAsync(l => l.Contains("Inspector: http://127.0.0.1", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        output.WriteLine(inspectorLine.Trim());
        using var http = new HttpClient { BaseAddress = devHost.BaseAddress };

        var mapped = Webhook(MappedId, "email", "opened", "p-mapped", "Mapped.Person@example.com");
        foreach (var body in new[] { mapped, Webhook(FilteredId, "sms", "sent", "p-filtered", null), mapped, "{\"event_id\":\"" + BadId + "\",\"metric\":\"opened\",\"timestamp\":1700000000,\"data\":{\"identifiers\":{\"id\":\"p-bad\"}}}", Webhook(RejectedId, "email", "clicked", "p-reject", null) })
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, await SignedWebhooks.PostAsync(http, Source, SigningKey, Encoding.UTF8.GetBytes(body), cancel));
        }

        // The JSON API first: each webhook reaches its outcome.
        await WaitForAsync(http, "p-mapped", ["delivered", "deduplicated"], cancel);
        await WaitForAsync(http, "p-filtered", ["filtered"], cancel);
        await WaitForAsync(http, "p-bad", ["dead_lettered"], cancel);
        await WaitForAsync(http, "p-reject", ["dead_lettered"], cancel);

        // The API's shape: the fields the pages are built from.
        var api = JsonNode.Parse(await http.GetStringAsync($"/inspector/api/events?q={MappedId}&outcome=delivered", cancel))!["events"]!.AsArray();
        var delivered = Assert.Single(api)!.AsObject();
        foreach (var field in new[] { "eventId", "messageId", "source", "person", "event", "outcome", "reason", "receivedAt", "deliveredAt" })
        {
            Assert.True(delivered.ContainsKey(field), field);
        }

        Assert.Equal((MappedId, "cio-" + MappedId, Source, "p-mapped", "Email Opened", "delivered"),
            ((string)delivered["eventId"]!, (string)delivered["messageId"]!, (string)delivered["source"]!, (string)delivered["person"]!, (string)delivered["event"]!, (string)delivered["outcome"]!));
        Assert.True(DateTimeOffset.Parse((string)delivered["deliveredAt"]!, System.Globalization.CultureInfo.InvariantCulture) >= DateTimeOffset.Parse((string)delivered["receivedAt"]!, System.Globalization.CultureInfo.InvariantCulture));
        var detail = JsonNode.Parse(await http.GetStringAsync($"/inspector/api/events/{Source}/{MappedId}", cancel))!;
        Assert.Equal(2, detail["receipts"]!.AsArray().Count);
        Assert.Contains(detail["receipts"]!.AsArray(), r => ((string?)r!["track"])?.Contains("\"event\":\"Email Opened\"", StringComparison.Ordinal) == true);
        Assert.Equal(404, (int)(await http.GetAsync($"/inspector/api/events/{Source}/no-such-event", cancel)).StatusCode);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = devHost.BaseAddress.ToString(), ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var problems = new List<string>();
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
            {
                problems.Add(m.Text);
            }
        };

        // By person: the mapped webhook and its duplicate; by event_id: the same two receipts.
        await SearchAsync(page, "p-mapped");
        Assert.Equal(["deduplicated", "delivered"], (await Outcomes(page)).Order());
        Directory.CreateDirectory(RepositoryPaths.InRoot("TestResults/inspector"));
        var screenshot = RepositoryPaths.InRoot("TestResults/inspector/search.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"screenshot: {screenshot}");
        await SearchAsync(page, MappedId);
        Assert.Equal(["deduplicated", "delivered"], (await Outcomes(page)).Order());
        await SearchAsync(page, "mapped.person@EXAMPLE.com");
        Assert.Equal(2, (await Outcomes(page)).Count);

        // Each detail page shows its outcome and what the pipeline did.
        await SearchAsync(page, "p-filtered");
        Assert.Equal(["filtered"], await Outcomes(page));
        await OpenDetailAsync(page);
        Assert.Equal(["filtered"], await ReceiptOutcomes(page));
        Assert.Contains("event_not_enabled", await page.Locator("section.receipt").InnerTextAsync(), StringComparison.Ordinal);

        await SearchAsync(page, FilteredId);
        Assert.Equal(["filtered"], await Outcomes(page));

        await SearchAsync(page, MappedId);
        await OpenDetailAsync(page);
        Assert.Equal(["delivered", "deduplicated"], await ReceiptOutcomes(page));
        Assert.Contains("\"messageId\":\"cio-" + MappedId + "\"", await page.Locator("pre.track").First.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Contains(MappedId, await page.Locator("pre.raw").First.InnerTextAsync(), StringComparison.Ordinal);

        await SearchAsync(page, "p-bad");
        Assert.Equal(["dead_lettered"], await Outcomes(page));
        await SearchAsync(page, BadId);
        await OpenDetailAsync(page);
        Assert.Equal(["dead_lettered"], await ReceiptOutcomes(page));
        Assert.Contains("missing_field:object_type", await page.Locator("section.receipt").InnerTextAsync(), StringComparison.Ordinal);

        // The track event Segment refused: fix the cause (Segment takes it now), replay it from the dead-letter page.
        await SearchAsync(page, RejectedId);
        Assert.Equal(["dead_lettered"], await Outcomes(page));
        Volatile.Write(ref segmentTakesRejected, true);
        await page.GotoAsync("/inspector/dead-letters?reason=segment_rejected");
        var row = page.Locator("#dead-letters tbody tr", new() { HasText = "p-reject" });
        await row.Locator("a.replay").ClickAsync();
        await page.Locator("#confirm-replay").ClickAsync();
        Assert.Contains("Replayed 1 of 1", await page.Locator("#replay-result").InnerTextAsync(), StringComparison.Ordinal);
        var audit = await devHost.WaitForLineAsync(l => l.Contains("Replay by", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Contains("Replay by anonymous (loopback)", audit, StringComparison.Ordinal);

        var clock = Stopwatch.StartNew();
        while (true)
        {
            await SearchAsync(page, RejectedId);
            if ((await Outcomes(page)).SequenceEqual(["delivered"]) || clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                break;
            }

            await Task.Delay(500, cancel);
        }

        Assert.Equal(["delivered"], await Outcomes(page));
        Assert.Contains(segment.Delivered, e => (string?)e["messageId"] == "cio-" + RejectedId);

        // The live view of the source: a new webhook appears as it arrives, and its row follows it to Segment.
        await page.GotoAsync($"/inspector/live?source={Source}");
        await page.Locator("#live-status", new() { HasText = "connected" }).WaitForAsync();
        Assert.Equal(System.Net.HttpStatusCode.OK, await SignedWebhooks.PostAsync(http, Source, SigningKey, Encoding.UTF8.GetBytes(Webhook("01JBROWSERLIVE000000000001", "email", "delivered", "p-live", null)), cancel));
        var live = page.Locator("#live tbody tr", new() { HasText = "p-live" });
        await live.Locator(".outcome[data-outcome=delivered]").WaitForAsync(new() { Timeout = 30_000 });
        Assert.Contains("Email Delivered", await live.InnerTextAsync(), StringComparison.Ordinal);
        Assert.Empty(problems);
    }

    private static string Webhook(string eventId, string objectType, string metric, string person, string? email) =>
        new JsonObject
        {
            ["event_id"] = eventId,
            ["object_type"] = objectType,
            ["metric"] = metric,
            ["timestamp"] = 1_700_000_000,
            ["data"] = new JsonObject
            {
                ["identifiers"] = email is null ? new JsonObject { ["id"] = person } : new JsonObject { ["id"] = person, ["email"] = email },
                ["delivery_id"] = "d-" + eventId,
                ["recipient"] = email ?? "+15550100",
            },
        }.ToJsonString();

    private static async Task WaitForAsync(HttpClient http, string person, string[] outcomes, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            last = await http.GetStringAsync($"/inspector/api/events?q={Uri.EscapeDataString(person)}", cancel);
            var found = JsonNode.Parse(last)!["events"]!.AsArray().Select(e => (string)e!["outcome"]!).Order().ToArray();
            if (found.SequenceEqual(outcomes.Order()))
            {
                return;
            }

            await Task.Delay(250, cancel);
        }

        Assert.Fail($"{person}: expected outcomes {string.Join(", ", outcomes)}; the API answers {last}");
    }

    private static async Task SearchAsync(IPage page, string term)
    {
        await page.GotoAsync("/inspector/");
        await page.Locator("input[name=q]").FillAsync(term);
        await page.Locator("form.search button[type=submit]").ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("q=", StringComparison.Ordinal));
    }

    private static async Task<List<string>> Outcomes(IPage page) =>
        [.. (await page.Locator("#results .outcome").AllAsync()).Select(l => l.GetAttributeAsync("data-outcome").GetAwaiter().GetResult()!)];

    private static async Task<List<string>> ReceiptOutcomes(IPage page) =>
        [.. (await page.Locator("section.receipt").AllAsync()).Select(l => l.GetAttributeAsync("data-outcome").GetAwaiter().GetResult()!)];

    private static async Task OpenDetailAsync(IPage page)
    {
        await page.Locator("#results a.detail").First.ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("/inspector/events/", StringComparison.Ordinal));
    }
}
