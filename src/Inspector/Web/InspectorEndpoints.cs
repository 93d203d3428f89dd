using System.Globalization;
using System.Text;
using System.Text.Json;
using CioSegment.Contracts;
using CioSegment.Inspector.Index;
using CioSegment.Processor;
using CioSegment.Processor.Publish;
using CioSegment.Processor.Replay;
using CioSegment.Processor.Transform;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;
using static CioSegment.Inspector.Web.Html;

namespace CioSegment.Inspector.Web;

/// <summary>The inspector's pages and JSON API, under <see cref="InspectorOptions.PathBase"/>.</summary>
public static partial class InspectorEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Map(IEndpointRouteBuilder routes, InspectorOptions options)
    {
        var group = routes.MapGroup(InspectorOptions.PathBase);
        if (options.OidcConfigured || options.BearerConfigured)
        {
            group.RequireAuthorization(InspectorAccess.Policy);
        }

        group.MapGet("/inspector.css", () => Results.Text(Css, "text/css")).AllowAnonymous();
        group.MapGet("/live.js", () => Results.Text(LiveScript, "text/javascript"));
        group.MapGet("/signin", (string? returnUrl) => Results.Content(SignInPage(returnUrl, null), "text/html")).AllowAnonymous();
        group.MapPost("/signin", SignIn).AllowAnonymous().DisableAntiforgery();

        group.MapGet("/api/events", (HttpContext context, EventIndex index, IOptions<InspectorOptions> o) =>
        {
            var query = Query(context.Request.Query);
            using var read = index.Read();
            var events = read.Search(query);
            return Results.Json(new { events = events.Select(e => ApiEvent(e, o.Value)) }, Json);
        });
        group.MapGet("/api/events/{source}/{eventId}", async (string source, string eventId, EventIndex index, KafkaBodies bodies, BodyReader reader, IOptions<InspectorOptions> o, CancellationToken cancel) =>
        {
            var trails = Trails(index, source, eventId);
            if (trails.Count == 0)
            {
                return Results.Json(new { error = "not_found", detail = $"No webhook of source '{source}' with event_id, messageId or raw coordinates '{eventId}' in the index." }, Json, statusCode: 404);
            }

            var receipts = new List<object>();
            foreach (var trail in trails)
            {
                var content = await reader.ReadAsync(trail, cancel);
                receipts.Add(new
                {
                    summary = ApiEvent(trail.Summary, o.Value),
                    raw = new { topic = o.Value.RawTopic, partition = trail.Summary.Webhook.Partition, offset = trail.Summary.Webhook.Offset },
                    replayedFrom = trail.Summary.Webhook.ReplayedFrom,
                    stages = trail.Facts.Select(f => ApiFact(f, o.Value)),
                    body = content.Body,
                    track = content.Track,
                    deadLetterDetail = content.DeadLetterDetail,
                });
            }

            return Results.Json(new { source, eventId, receipts }, Json);
        });
        group.MapGet("/api/dead-letters", (string? reason, int? limit, EventIndex index, IOptions<InspectorOptions> o) =>
        {
            using var read = index.Read();
            return Results.Json(new
            {
                reasons = read.DeadLetterReasons().Select(r => new { stage = r.Stage, reason = r.Reason, count = r.Count }),
                deadLetters = read.DeadLetters(reason, Math.Clamp(limit ?? 100, 1, 1000)).Select(d => new { fact = ApiFact(d.Fact, o.Value), @event = d.Event is null ? null : ApiEvent(d.Event, o.Value) }),
            }, Json);
        });
        group.MapGet("/api/live", Live);

        group.MapGet("/", (HttpContext context, EventIndex index, IOptions<InspectorOptions> o) => Results.Content(SearchPage(context, index, o.Value), "text/html"));
        group.MapGet("/events/{source}/{eventId}", async (string source, string eventId, EventIndex index, BodyReader reader, IOptions<InspectorOptions> o, CancellationToken cancel) =>
            Results.Content(await DetailPage(source, eventId, index, reader, o.Value, cancel), "text/html"));
        group.MapGet("/live", (string? source, EventIndex index) => Results.Content(LivePage(source, index), "text/html"));
        group.MapGet("/dead-letters", (string? reason, EventIndex index, IOptions<InspectorOptions> o) => Results.Content(DeadLettersPage(reason, index, o.Value), "text/html"));
        group.MapGet("/dead-letters/replay", (HttpContext context, IAntiforgery antiforgery) => Results.Content(ConfirmReplayPage(context, antiforgery), "text/html"));
        group.MapPost("/dead-letters/replay", Replay).DisableAntiforgery();
    }

    private static IReadOnlyList<EventTrail> Trails(EventIndex index, string source, string eventId)
    {
        using var read = index.Read();
        return read.Trails(source, eventId);
    }

    // ---- API shapes ----

    private static object ApiEvent(EventSummary e, InspectorOptions o) => new
    {
        eventId = e.Webhook.EventId,
        messageId = e.Webhook.MessageId,
        source = e.Webhook.Source,
        person = Mask(e.Webhook.Person, o),
        email = Email(e.Webhook.Email, o),
        @event = e.Webhook.Event,
        outcome = e.Outcome,
        reason = e.Reason,
        stage = e.Stage,
        attempts = e.Attempts,
        receivedAt = Iso(e.Webhook.ReceivedAt),
        deliveredAt = e.DeliveredAt is { } d ? Iso(d) : null,
        link = $"{InspectorOptions.PathBase}/events/{U(e.Webhook.Source)}/{U(DetailId(e.Webhook))}",
    };

    private static object ApiFact(Fact f, InspectorOptions o) => new
    {
        what = What(f),
        stage = Stage(f),
        status = f.Kind == FactKind.Attempt ? f.Status : (int?)null,
        attempt = f.Kind == FactKind.Attempt ? f.Attempt : (int?)null,
        reason = f.Reason,
        at = Iso(f.At),
        topic = TopicName(f.Topic, o),
        partition = f.Partition,
        offset = f.Offset,
    };

    private static string? Iso(long ms) => ms > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("O", CultureInfo.InvariantCulture) : null;

    internal static string DetailId(WebhookRow w) => w.EventId ?? $"raw-{w.Partition}-{w.Offset}";

    internal static string? Email(string? email, InspectorOptions o)
    {
        if (email is null || !o.MaskEmails)
        {
            return email;
        }

        var at = email.IndexOf('@', StringComparison.Ordinal);
        return at <= 0 ? "***" : email[..1] + "***" + email[at..];
    }

    /// <summary>
    /// With <see cref="InspectorOptions.MaskEmails"/>, every email address in <paramref name="text"/> (a person id
    /// may be one, and a webhook's body has them) as <c>a***@example.com</c>.
    /// </summary>
    internal static string? Mask(string? text, InspectorOptions o) =>
        text is null || !o.MaskEmails || !text.Contains('@', StringComparison.Ordinal)
            ? text
            : EmailPattern().Replace(text, m => m.Groups["local"].Value[..1] + "***@" + m.Groups["domain"].Value);

    [System.Text.RegularExpressions.GeneratedRegex(@"(?<local>[A-Za-z0-9._%+\-]+)@(?<domain>[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*)")]
    private static partial System.Text.RegularExpressions.Regex EmailPattern();

    private static string What(Fact f) => f.Kind switch
    {
        FactKind.Mapped => "mapped",
        FactKind.Filtered => "filtered",
        FactKind.Deduplicated => "deduplicated",
        FactKind.TransformDeadLettered or FactKind.PublishDeadLettered => "dead_lettered",
        FactKind.Held => "held",
        FactKind.Attempt => f.Status is >= 200 and < 300 ? "delivered" : "attempt",
        _ => "unknown",
    };

    private static string Stage(Fact f) => f.Kind is FactKind.Mapped or FactKind.Filtered or FactKind.Deduplicated or FactKind.TransformDeadLettered ? "transform" : "publish";

    internal static string TopicName(TopicCode code, InspectorOptions o) => code switch
    {
        TopicCode.Raw => o.RawTopic,
        TopicCode.Sink => o.SinkTopic,
        TopicCode.Held => o.HeldTopic,
        TopicCode.WebhooksDeadLetter => o.WebhooksDeadLetterTopic,
        TopicCode.SegmentDeadLetter => o.SegmentDeadLetterTopic,
        TopicCode.Deliveries => o.DeliveriesTopic,
        TopicCode.Outcomes => o.OutcomesTopic,
        _ => "",
    };

    private static EventQuery Query(IQueryCollection q)
    {
        static long? Instant(string? text) => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at.ToUnixTimeMilliseconds() : null;
        return new EventQuery(
            Term: q["q"].FirstOrDefault(),
            Source: q["source"].FirstOrDefault(),
            Event: q["event"].FirstOrDefault(),
            Outcome: q["outcome"].FirstOrDefault(),
            Since: Instant(q["since"].FirstOrDefault()),
            Until: Instant(q["until"].FirstOrDefault()),
            Limit: int.TryParse(q["limit"].FirstOrDefault(), out var limit) ? limit : 50);
    }

    // ---- live ----

    private static async Task Live(HttpContext context, string? source, LiveFeed feed, IOptions<InspectorOptions> options, CancellationToken cancel)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.WriteAsync(": connected\n\n", cancel);
        await context.Response.Body.FlushAsync(cancel);
        try
        {
            await foreach (var note in feed.Follow(string.IsNullOrEmpty(source) ? null : source, cancel))
            {
                var json = JsonSerializer.Serialize(note with { Person = Mask(note.Person, options.Value) }, Json);
                await context.Response.WriteAsync("data: " + json + "\n\n", cancel);
                await context.Response.Body.FlushAsync(cancel);
            }
        }
        catch (OperationCanceledException)
        {
            // The page went away.
        }
    }

    // ---- pages ----

    private static string SearchPage(HttpContext context, EventIndex index, InspectorOptions o)
    {
        var query = Query(context.Request.Query);
        using var read = index.Read();
        var sources = read.Sources();
        var html = new StringBuilder();
        html.Append("<form class=\"search\" method=\"get\" action=\"").Append(InspectorOptions.PathBase).Append("/\">");
        html.Append("<label>Person id, email, event_id or messageId<input name=\"q\" size=\"36\" value=\"").Append(E(query.Term)).Append("\" autofocus></label>");
        html.Append("<label>Source<select name=\"source\"><option value=\"\">any</option>");
        foreach (var s in sources)
        {
            html.Append("<option").Append(s == query.Source ? " selected" : "").Append('>').Append(E(s)).Append("</option>");
        }

        html.Append("</select></label><label>Event<input name=\"event\" size=\"16\" placeholder=\"Email Opened\" value=\"").Append(E(query.Event)).Append("\"></label>");
        html.Append("<label>Outcome<select name=\"outcome\"><option value=\"\">any</option>");
        foreach (var outcome in Outcomes.All)
        {
            html.Append("<option value=\"").Append(outcome).Append('"').Append(outcome == query.Outcome ? " selected" : "").Append('>').Append(E(outcome.Replace('_', ' '))).Append("</option>");
        }

        html.Append("</select></label>");
        html.Append("<label>Received since (UTC)<input name=\"since\" size=\"20\" placeholder=\"2026-12-07T08:00\" value=\"").Append(E(context.Request.Query["since"].FirstOrDefault())).Append("\"></label>");
        html.Append("<label>until<input name=\"until\" size=\"20\" value=\"").Append(E(context.Request.Query["until"].FirstOrDefault())).Append("\"></label>");
        html.Append("<button type=\"submit\">Search</button></form>");

        var results = read.Search(query);
        html.Append("<p class=\"muted\">").Append(index.WebhookCount.ToString("N0", CultureInfo.InvariantCulture)).Append(" webhooks indexed. ");
        html.Append(results.Count == 0 ? "Nothing found." : $"Newest {results.Count} shown.").Append("</p>");
        if (results.Count > 0)
        {
            html.Append(ResultsTable(results, o));
        }

        return Page("Search", html.ToString());
    }

    private static string ResultsTable(IEnumerable<EventSummary> results, InspectorOptions o)
    {
        var html = new StringBuilder("<table id=\"results\"><thead><tr><th>Received</th><th>Source</th><th>Person</th><th>Email</th><th>Event</th><th>event_id</th><th>Outcome</th><th>Reason</th><th>Delivered</th></tr></thead><tbody>");
        foreach (var e in results)
        {
            var w = e.Webhook;
            html.Append("<tr><td>").Append(Time(w.ReceivedAt)).Append("</td><td>").Append(E(w.Source)).Append("</td><td>").Append(E(Mask(w.Person, o)));
            html.Append("</td><td>").Append(E(Email(w.Email, o))).Append("</td><td>").Append(E(w.Event)).Append("</td><td><a class=\"detail\" href=\"");
            html.Append(InspectorOptions.PathBase).Append("/events/").Append(U(w.Source)).Append('/').Append(U(DetailId(w))).Append("\">").Append(E(DetailId(w))).Append("</a></td><td>");
            html.Append(Badge(e.Outcome)).Append("</td><td>").Append(E(e.Reason)).Append("</td><td>").Append(Time(e.DeliveredAt)).Append("</td></tr>");
        }

        return html.Append("</tbody></table>").ToString();
    }

    private static async Task<string> DetailPage(string source, string eventId, EventIndex index, BodyReader reader, InspectorOptions o, CancellationToken cancel)
    {
        var trails = Trails(index, source, eventId);
        if (trails.Count == 0)
        {
            return Page($"{source} / {eventId}", $"<p class=\"error\">No webhook of source {E(source)} with event_id, messageId or raw coordinates {E(eventId)} in the index (it may be older than the retention, or not indexed yet).</p>");
        }

        var html = new StringBuilder();
        var n = 0;
        foreach (var trail in trails)
        {
            var e = trail.Summary;
            var w = e.Webhook;
            var content = await reader.ReadAsync(trail, cancel);
            html.Append("<section class=\"receipt\" data-outcome=\"").Append(E(e.Outcome)).Append("\"><h2>");
            html.Append(trails.Count > 1 ? $"Receipt {++n} of {trails.Count}: " : "").Append(Badge(e.Outcome)).Append(' ').Append(E(e.Reason)).Append("</h2><dl>");
            void Row(string name, string? value)
            {
                if (!string.IsNullOrEmpty(value))
                {
                    html.Append("<dt>").Append(E(name)).Append("</dt><dd>").Append(E(value)).Append("</dd>");
                }
            }

            Row("Source", w.Source);
            Row("event_id", w.EventId);
            Row("messageId", w.MessageId);
            Row("Person", Mask(w.Person, o));
            Row("Email", Email(w.Email, o));
            Row("Event", w.Event);
            Row("Received", Time(w.ReceivedAt));
            Row("Delivered", Time(e.DeliveredAt));
            Row("Segment requests", e.Attempts > 0 ? $"{e.Attempts} (last answer {(e.LastStatus == 0 ? "none" : e.LastStatus.ToString(CultureInfo.InvariantCulture))})" : null);
            Row("Raw record", $"{o.RawTopic} partition {w.Partition} offset {w.Offset} ({w.Size} bytes)");
            Row("Replayed from", w.ReplayedFrom);
            Row("Dead letter detail", content.DeadLetterDetail);
            html.Append("</dl>");

            html.Append("<h2>Stages</h2><table class=\"stages\"><thead><tr><th>Time</th><th>Stage</th><th>What</th><th>Segment answer</th><th>Reason</th><th>Kafka record</th></tr></thead><tbody>");
            html.Append("<tr><td>").Append(Time(w.ReceivedAt)).Append("</td><td>ingest</td><td>stored</td><td></td><td></td><td>").Append(E($"{o.RawTopic}/{w.Partition}/{w.Offset}")).Append("</td></tr>");
            foreach (var f in trail.Facts)
            {
                html.Append("<tr><td>").Append(Time(f.At)).Append("</td><td>").Append(Stage(f)).Append("</td><td>").Append(Badge(What(f)));
                html.Append("</td><td>").Append(f.Kind == FactKind.Attempt ? (f.Status == 0 ? "no answer" : f.Status.ToString(CultureInfo.InvariantCulture)) + $", attempt {f.Attempt + 1}" : "");
                html.Append("</td><td>").Append(E(f.Reason)).Append("</td><td>").Append(E($"{TopicName(f.Topic, o)}/{f.Partition}/{f.Offset}"));
                if (f.Kind is FactKind.TransformDeadLettered or FactKind.PublishDeadLettered)
                {
                    html.Append(" <a class=\"replay\" href=\"").Append(InspectorOptions.PathBase).Append("/dead-letters/replay?topic=").Append(U(TopicName(f.Topic, o)))
                        .Append("&partition=").Append(f.Partition).Append("&offset=").Append(f.Offset).Append("\">Replay…</a>");
                }

                html.Append("</td></tr>");
            }

            html.Append("</tbody></table>");
            html.Append("<h2>Raw webhook</h2><pre class=\"raw\">").Append(E(content.Body ?? "(no longer in Kafka)")).Append("</pre>");
            if (content.Track is not null)
            {
                html.Append("<h2>Track event sent to Segment</h2><pre class=\"track\">").Append(E(content.Track)).Append("</pre>");
            }

            html.Append("</section>");
        }

        return Page($"{source} / {eventId}", html.ToString());
    }

    private static string LivePage(string? source, EventIndex index)
    {
        using var read = index.Read();
        var html = new StringBuilder("<form class=\"search\" method=\"get\"><label>Source<select name=\"source\" onchange=\"this.form.submit()\"><option value=\"\">all</option>");
        foreach (var s in read.Sources().Append(source ?? "").Where(s => s.Length > 0).Distinct())
        {
            html.Append("<option").Append(s == source ? " selected" : "").Append('>').Append(E(s)).Append("</option>");
        }

        html.Append("</select></label><span class=\"muted\" id=\"live-status\">connecting…</span></form>");
        html.Append("<table id=\"live\" data-source=\"").Append(E(source)).Append("\" data-api=\"").Append(InspectorOptions.PathBase).Append("/api/live\" data-base=\"").Append(InspectorOptions.PathBase);
        html.Append("\"><thead><tr><th>Received</th><th>Source</th><th>Person</th><th>Event</th><th>event_id</th><th>Outcome</th></tr></thead><tbody></tbody></table>");
        return Page(string.IsNullOrEmpty(source) ? "Live: all sources" : $"Live: {source}", html.ToString(), "live.js");
    }

    private static string DeadLettersPage(string? reason, EventIndex index, InspectorOptions o)
    {
        using var read = index.Read();
        var html = new StringBuilder("<table id=\"reasons\"><thead><tr><th>Stage</th><th>Reason</th><th>Dead letters</th><th></th></tr></thead><tbody>");
        foreach (var (stage, why, count) in read.DeadLetterReasons())
        {
            html.Append("<tr><td>").Append(E(stage)).Append("</td><td><a href=\"").Append(InspectorOptions.PathBase).Append("/dead-letters?reason=").Append(U(why)).Append("\">").Append(E(why)).Append("</a></td><td>")
                .Append(count.ToString(CultureInfo.InvariantCulture)).Append("</td><td><a class=\"replay-reason\" href=\"").Append(InspectorOptions.PathBase).Append("/dead-letters/replay?stage=").Append(U(stage))
                .Append("&reason=").Append(U(why)).Append("\">Replay all…</a></td></tr>");
        }

        html.Append("</tbody></table><h2>").Append(string.IsNullOrEmpty(reason) ? "Newest dead letters" : "Newest dead letters: " + E(reason)).Append("</h2>");
        html.Append("<table id=\"dead-letters\"><thead><tr><th>Dead-lettered</th><th>Stage</th><th>Reason</th><th>Source</th><th>Person</th><th>event_id</th><th>Now</th><th></th></tr></thead><tbody>");
        foreach (var d in read.DeadLetters(reason, 200))
        {
            var w = d.Event?.Webhook;
            html.Append("<tr><td>").Append(Time(d.Fact.At)).Append("</td><td>").Append(Stage(d.Fact)).Append("</td><td>").Append(E(d.Fact.Reason)).Append("</td><td>").Append(E(w?.Source)).Append("</td><td>").Append(E(Mask(w?.Person, o))).Append("</td><td>");
            if (w is not null)
            {
                html.Append("<a href=\"").Append(InspectorOptions.PathBase).Append("/events/").Append(U(w.Source)).Append('/').Append(U(DetailId(w))).Append("\">").Append(E(DetailId(w))).Append("</a>");
            }

            html.Append("</td><td>").Append(d.Event is null ? "" : Badge(d.Event.Outcome)).Append("</td><td><a class=\"replay\" href=\"").Append(InspectorOptions.PathBase).Append("/dead-letters/replay?topic=")
                .Append(U(TopicName(d.Fact.Topic, o))).Append("&partition=").Append(d.Fact.Partition).Append("&offset=").Append(d.Fact.Offset).Append("\">Replay…</a></td></tr>");
        }

        html.Append("</tbody></table>");
        return Page("Dead letters", html.ToString());
    }

    /// <summary>What a replay request names: one dead letter (topic, partition, offset) or every dead letter of a stage and reason.</summary>
    private sealed record ReplayTarget(string Stage, string From, string To, string? Reason, TopicPartitionOffset? Only)
    {
        public string Describe => Only is { } only ? $"the dead letter at {only.Topic}/{only.Partition.Value}/{only.Offset.Value}" : $"every {Stage} dead letter with reason '{Reason}'";
    }

    private static ReplayTarget? Target(Func<string, string?> get, InspectorOptions o)
    {
        var topic = get("topic");
        if (!string.IsNullOrEmpty(topic) && int.TryParse(get("partition"), out var partition) && long.TryParse(get("offset"), out var offset))
        {
            var stage = topic == o.SegmentDeadLetterTopic ? BatchPublisher.Stage : topic == o.WebhooksDeadLetterTopic ? WebhookTransformer.Stage : null;
            return stage is null ? null : new ReplayTarget(stage, topic, stage == BatchPublisher.Stage ? o.SinkTopic : o.RawTopic, null, new TopicPartitionOffset(topic, partition, offset));
        }

        var byStage = get("stage");
        var reason = get("reason");
        return byStage switch
        {
            WebhookTransformer.Stage when !string.IsNullOrEmpty(reason) => new ReplayTarget(byStage, o.WebhooksDeadLetterTopic, o.RawTopic, reason, null),
            BatchPublisher.Stage when !string.IsNullOrEmpty(reason) => new ReplayTarget(byStage, o.SegmentDeadLetterTopic, o.SinkTopic, reason, null),
            _ => null,
        };
    }

    private static string ConfirmReplayPage(HttpContext context, IAntiforgery antiforgery)
    {
        var o = context.RequestServices.GetRequiredService<IOptions<InspectorOptions>>().Value;
        var target = Target(k => context.Request.Query[k].FirstOrDefault(), o);
        if (target is null)
        {
            return Page("Replay", "<p class=\"error\">Name a dead letter (topic, partition, offset) or a stage and reason to replay.</p>");
        }

        var tokens = antiforgery.GetAndStoreTokens(context);
        var html = new StringBuilder("<p class=\"notice\">Replay writes ").Append(E(target.Describe)).Append(" back to ").Append(E(target.To))
            .Append(". Fix the cause first (the source's settings, its write key, the mapping): a dead letter whose cause remains comes back as a dead letter. Segment drops what it already stored (same messageId). Your name is written to the audit log.</p>");
        html.Append("<form method=\"post\" action=\"").Append(InspectorOptions.PathBase).Append("/dead-letters/replay\">");
        html.Append("<input type=\"hidden\" name=\"").Append(E(tokens.FormFieldName)).Append("\" value=\"").Append(E(tokens.RequestToken)).Append("\">");
        foreach (var key in new[] { "topic", "partition", "offset", "stage", "reason" })
        {
            if (context.Request.Query[key].FirstOrDefault() is { } value)
            {
                html.Append("<input type=\"hidden\" name=\"").Append(key).Append("\" value=\"").Append(E(value)).Append("\">");
            }
        }

        html.Append("<button type=\"submit\" id=\"confirm-replay\">Replay ").Append(E(target.Describe)).Append("</button> <a href=\"").Append(InspectorOptions.PathBase).Append("/dead-letters\">Cancel</a></form>");
        return Page("Replay dead letters", html.ToString());
    }

    private static async Task<IResult> Replay(HttpContext context, IAntiforgery antiforgery, KafkaClientFactory kafka, IOptions<InspectorOptions> options, ISerializer<SegmentTrackRecord> sinkRecords, ILoggerFactory loggers, CancellationToken cancel)
    {
        if (!await antiforgery.IsRequestValidAsync(context))
        {
            return Results.Content(Page("Replay", "<p class=\"error\">The confirmation expired or did not come from this page; open the replay again.</p>"), "text/html", statusCode: 400);
        }

        var form = await context.Request.ReadFormAsync(cancel);
        var target = Target(k => form[k].FirstOrDefault(), options.Value);
        if (target is null)
        {
            return Results.Content(Page("Replay", "<p class=\"error\">Name a dead letter (topic, partition, offset) or a stage and reason to replay.</p>"), "text/html", statusCode: 400);
        }

        var audit = loggers.CreateLogger("CioSegment.Inspector.Audit");
        var user = InspectorAccess.UserOf(context);
        var request = new ReplayRequest(target.From, target.To, target.Reason is null ? [] : [target.Reason], [], null, DryRun: false, Stage: target.Stage, Only: target.Only is null ? null : [target.Only]);
        try
        {
            var log = new StringWriter();
            var result = await Task.Run(() => DeadLetterReplay.Run(kafka, request, log, cancel, target.Stage == BatchPublisher.Stage ? sinkRecords : null), cancel);
            audit.LogWarning("Replay by {User}: {Target} from {From} to {To}: {Matched} matched, {Replayed} replayed, {Omitted} without body", user, target.Describe, target.From, target.To, result.Matched, result.Replayed, result.BodyOmitted);
            var html = $"<p id=\"replay-result\">Replayed {result.Replayed} of {result.Matched} matching dead letters ({result.Read} read) to {E(target.To)}.</p>"
                + (result.BodyOmitted > 0 ? $"<p class=\"error\">{result.BodyOmitted} were parked without their body (too large for Kafka) and cannot be replayed.</p>" : "")
                + $"<p><a href=\"{InspectorOptions.PathBase}/dead-letters\">Back to the dead letters</a></p>";
            return Results.Content(Page("Replay done", html), "text/html");
        }
        catch (Exception e) when (e is KafkaException or InvalidOperationException)
        {
            audit.LogWarning("Replay by {User}: {Target} failed: {Reason}", user, target.Describe, e.Message);
            return Results.Content(Page("Replay failed", $"<p class=\"error\">{E(e.Message)}</p>"), "text/html", statusCode: 502);
        }
    }

    private static async Task<IResult> SignIn(HttpContext context, IOptions<InspectorOptions> options)
    {
        var form = await context.Request.ReadFormAsync();
        var returnUrl = form["returnUrl"].FirstOrDefault();
        var token = form["token"].FirstOrDefault() ?? "";
        if (!InspectorAccess.IsToken(token, options.Value))
        {
            return Results.Content(SignInPage(returnUrl, "That is not the inspector's token."), "text/html", statusCode: 401);
        }

        context.Response.Cookies.Append(InspectorAccess.TokenCookie, token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, Path = InspectorOptions.PathBase, MaxAge = TimeSpan.FromHours(8) });
        var local = returnUrl is { Length: > 1 } && returnUrl.StartsWith(InspectorOptions.PathBase, StringComparison.Ordinal) && !returnUrl.StartsWith("//", StringComparison.Ordinal) ? returnUrl : InspectorOptions.PathBase + "/";
        return Results.Redirect(local);
    }

    private static string SignInPage(string? returnUrl, string? error) => Page("Sign in",
        (error is null ? "" : $"<p class=\"error\">{E(error)}</p>")
        + $"<form method=\"post\" action=\"{InspectorOptions.PathBase}/signin\"><input type=\"hidden\" name=\"returnUrl\" value=\"{E(returnUrl)}\"><label>Inspector token <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label> <button type=\"submit\">Sign in</button></form>");
}
