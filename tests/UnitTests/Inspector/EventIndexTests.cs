using CioSegment.Inspector;
using CioSegment.Inspector.Index;
using CioSegment.Inspector.Web;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace CioSegment.UnitTests.Inspector;

public sealed class EventIndexTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cio-index-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(Start);

    private string File => Path.Combine(_directory, "index.db");

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private WebhookRow Webhook(int partition, long offset, string person, string eventId, string? email = null, string source = "acme") =>
        new(Ids.Webhook(partition, offset), source, eventId, "cio-" + eventId, person, email, "Email Opened", Now, partition, offset, 100, null);

    private Fact Attempt(string source, string eventId, int status, int attempt = 0) =>
        new(null, Ids.Message(source, "cio-" + eventId), FactKind.Attempt, status, attempt, null, Now, TopicCode.Sink, 0, 1, null);

    private static readonly KeyValuePair<(string, int), long>[] NoPositions = [];

    [Fact]
    public void A_webhook_is_found_by_person_email_in_any_case_event_id_and_message_id_with_its_outcome()
    {
        using var index = new EventIndex(File, TimeSpan.FromHours(24), 10_000_000, _time);
        index.Write([Webhook(0, 1, "p1", "E1", "Ann@Example.com"), Webhook(0, 2, "p2", "E2")], [], NoPositions);
        index.Write([], [new Fact(null, Ids.Message("acme", "cio-E1"), FactKind.Mapped, 0, 0, null, Now, TopicCode.Sink, 3, 7, null), Attempt("acme", "E1", 503), Attempt("acme", "E1", 200, 1)], NoPositions);

        using var read = index.Read();
        foreach (var term in new[] { "p1", "ann@example.com", "ANN@EXAMPLE.COM", "E1", "cio-E1" })
        {
            var found = Assert.Single(read.Search(new EventQuery(term)));
            Assert.Equal("E1", found.Webhook.EventId);
            Assert.Equal(Outcomes.Delivered, found.Outcome);
            Assert.Equal(2, found.Attempts);
        }

        Assert.Equal(Outcomes.Stored, Assert.Single(read.Search(new EventQuery("p2"))).Outcome);
        Assert.Equal(["acme"], read.Sources());
        Assert.Empty(read.Search(new EventQuery("p1", Source: "other")));
        Assert.Empty(read.Search(new EventQuery("nobody")));
    }

    [Fact]
    public void Transform_facts_decide_for_their_receipt_and_a_duplicate_does_not_borrow_its_originals_delivery()
    {
        using var index = new EventIndex(File, TimeSpan.FromHours(24), 10_000_000, _time);

        // Facts may be indexed before the webhook they are about (the topics are read side by side).
        index.Write([], [Attempt("acme", "E1", 200), new Fact(Ids.Webhook(1, 5), null, FactKind.Deduplicated, 0, 0, "event_id", Now, TopicCode.Outcomes, 0, 0, null)], NoPositions);
        index.Write([Webhook(0, 1, "p1", "E1"), Webhook(1, 5, "p1", "E1"), Webhook(2, 9, "p3", "E3")], [new Fact(Ids.Webhook(2, 9), null, FactKind.TransformDeadLettered, 0, 0, "missing_field:metric", Now, TopicCode.WebhooksDeadLetter, 0, 4, null)], NoPositions);

        using var read = index.Read();
        var trails = read.Trails("acme", "E1");
        Assert.Equal([Outcomes.Delivered, Outcomes.Deduplicated], trails.Select(t => t.Summary.Outcome));
        var dead = Assert.Single(read.Search(new EventQuery(Outcome: Outcomes.DeadLettered)));
        Assert.Equal("missing_field:metric", dead.Reason);
        Assert.Equal("transform", dead.Stage);
        Assert.Equal(("transform", "missing_field:metric", 1L), Assert.Single(read.DeadLetterReasons()));
        Assert.Equal("E3", Assert.Single(read.DeadLetters(null, 10)).Event!.Webhook.EventId);
        Assert.Equal([Outcomes.Deduplicated], read.Search(new EventQuery(Outcome: Outcomes.Deduplicated)).Select(s => s.Outcome));
    }

    [Fact]
    public void Held_then_delivered_and_publish_dead_letters_are_told_apart()
    {
        using var index = new EventIndex(File, TimeSpan.FromHours(24), 10_000_000, _time);
        index.Write([Webhook(0, 1, "p1", "H1"), Webhook(0, 2, "p2", "D1")], [
            Attempt("acme", "H1", 401),
            new Fact(null, Ids.Message("acme", "cio-H1"), FactKind.Held, 0, 0, null, Now, TopicCode.Held, 0, 0, "acme\ncio-H1"),
            new Fact(null, Ids.Message("acme", "cio-D1"), FactKind.PublishDeadLettered, 0, 0, "segment_rejected", Now, TopicCode.SegmentDeadLetter, 0, 0, "acme\ncio-D1"),
        ], NoPositions);
        using (var read = index.Read())
        {
            Assert.Equal(Outcomes.Held, Assert.Single(read.Search(new EventQuery("H1"))).Outcome);
            Assert.Equal("H1", Assert.Single(read.Search(new EventQuery(Outcome: Outcomes.Held))).Webhook.EventId);
            var dead = Assert.Single(read.Search(new EventQuery(Outcome: Outcomes.DeadLettered)));
            Assert.Equal(("D1", "publish", "segment_rejected"), (dead.Webhook.EventId, dead.Stage, dead.Reason));
        }

        _time.Advance(TimeSpan.FromMinutes(5));
        index.Write([], [Attempt("acme", "H1", 200, 1)], NoPositions);
        using var after = index.Read();
        Assert.Equal(Outcomes.Delivered, Assert.Single(after.Search(new EventQuery("H1"))).Outcome);
        Assert.Empty(after.Search(new EventQuery(Outcome: Outcomes.Held)));
    }

    [Fact]
    public void Positions_commit_with_the_rows_and_survive_a_reopen()
    {
        using (var index = new EventIndex(File, TimeSpan.FromHours(24), 10_000_000, _time))
        {
            index.Write([Webhook(0, 1, "p1", "E1")], [], [new(("cio.webhooks.raw", 0), 2L), new(("cio.segment.track", 3), 40L)]);
            index.Write([], [], [new(("cio.webhooks.raw", 0), 5L)]);
        }

        using var reopened = new EventIndex(File, TimeSpan.FromHours(24), 10_000_000, _time);
        var positions = reopened.Positions();
        Assert.Equal(5, positions[("cio.webhooks.raw", 0)]);
        Assert.Equal(40, positions[("cio.segment.track", 3)]);
        Assert.Equal(1, reopened.WebhookCount);
        using var read = reopened.Read();
        Assert.Single(read.Search(new EventQuery("p1")));
    }

    [Fact]
    public void Retention_drops_whole_buckets_by_age_and_by_count()
    {
        // 24 buckets of an hour each for 24 h; 2400 webhooks at most: 100 per bucket.
        using var index = new EventIndex(File, TimeSpan.FromHours(24), 2400, _time, buckets: 24);
        for (var hour = 0; hour < 30; hour++)
        {
            index.Write([Webhook(0, hour, "p" + hour, "E" + hour)], [], NoPositions);
            _time.Advance(TimeSpan.FromHours(1));
        }

        using (var read = index.Read())
        {
            Assert.Empty(read.Search(new EventQuery("p0")));
            Assert.Empty(read.Search(new EventQuery("p4")));
            Assert.Single(read.Search(new EventQuery("p6")));
            Assert.Single(read.Search(new EventQuery("p29")));
        }

        for (var batch = 0; batch < 30; batch++)
        {
            index.Write([.. Enumerable.Range(0, 100).Select(i => Webhook(1, (batch * 100) + i, $"q{batch}-{i}", $"F{batch}-{i}"))], [], NoPositions);
        }

        Assert.InRange(index.WebhookCount, 2300, 2400);
        using var last = index.Read();
        Assert.Empty(last.Search(new EventQuery("q0-0")));
        Assert.Single(last.Search(new EventQuery("q29-99")));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData("http://localhost:5000", true)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("http://0.0.0.0:8080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://+:80", false)]
    [InlineData("https://inspector.example.com", false)]
    public void Loopback_addresses_are_told_from_the_others(string address, bool loopback) => Assert.Equal(loopback, InspectorAccess.IsLoopback(address));

    [Theory]
    [InlineData("urls", "http://0.0.0.0:8080")]
    [InlineData("ASPNETCORE_HTTP_PORTS", "8080")]
    [InlineData("Kestrel:Endpoints:Http:Url", "http://10.1.2.3:80")]
    public void Without_sign_in_the_inspector_refuses_any_non_loopback_address(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(key, value)]).Build();
        var refusal = Assert.Throws<InvalidOperationException>(() => InspectorAccess.EnsureProtected(new InspectorOptions { AllowAnonymousOnLoopback = true }, configuration));
        Assert.Contains("BearerToken", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("Oidc:Authority", refusal.Message, StringComparison.Ordinal);

        InspectorAccess.EnsureProtected(new InspectorOptions { BearerToken = new string('t', 32) }, configuration);
        InspectorAccess.EnsureProtected(new InspectorOptions { Oidc = { Authority = "https://login.example.com", ClientId = "inspector" } }, configuration);
        var loopback = new ConfigurationBuilder().AddInMemoryCollection([new("urls", "http://127.0.0.1:8080")]).Build();
        InspectorAccess.EnsureProtected(new InspectorOptions { AllowAnonymousOnLoopback = true }, loopback);
        Assert.Throws<InvalidOperationException>(() => InspectorAccess.EnsureProtected(new InspectorOptions(), loopback));
        Assert.Throws<InvalidOperationException>(() => InspectorAccess.EnsureProtected(new InspectorOptions { BearerToken = "short" }, configuration));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
