using Microsoft.Data.Sqlite;

namespace CioSegment.Inspector.Index;

/// <summary>
/// One consistent read of the <see cref="EventIndex"/> (a WAL snapshot): searches, a webhook's trail, dead
/// letters. Buckets are read newest first and a search stops as soon as it has its page, so its cost grows
/// with the number of buckets (about <see cref="EventIndex.Buckets"/>), not of webhooks.
/// </summary>
public sealed class IndexSnapshot : IDisposable
{
    /// <summary>A search without a term reads at most this many of the newest webhooks.</summary>
    public const int MaxScanned = 500;

    private readonly SqliteConnection _connection;
    private readonly SqliteTransaction _transaction;
    private readonly IReadOnlyList<long> _buckets;
    private SqliteCommand? _factsOf;
    private SqliteCommand? _byWid;

    internal IndexSnapshot(SqliteConnection connection, SqliteTransaction transaction, IReadOnlyList<long> buckets)
    {
        _connection = connection;
        _transaction = transaction;
        _buckets = buckets;
    }

    /// <summary>Newest first: webhooks matching the term (person id, email, event_id or messageId) and the filters.</summary>
    public IReadOnlyList<EventSummary> Search(EventQuery query)
    {
        var limit = Math.Clamp(query.Limit, 1, 500);
        var found = new List<EventSummary>();
        var seen = new HashSet<long>();
        foreach (var webhook in Candidates(query))
        {
            if (!seen.Add(webhook.Wid) || !Matches(webhook, query))
            {
                continue;
            }

            var summary = Summarize(webhook);
            if (query.Outcome is { Length: > 0 } outcome && summary.Outcome != outcome)
            {
                continue;
            }

            found.Add(summary);
            if (found.Count >= limit)
            {
                break;
            }
        }

        return found;
    }

    private IEnumerable<WebhookRow> Candidates(EventQuery query)
    {
        if (query.Term is { Length: > 0 } term)
        {
            return ByTerm(term.Trim());
        }

        return query.Outcome switch
        {
            Outcomes.Filtered => ByFact([FactKind.Filtered]),
            Outcomes.Deduplicated => ByFact([FactKind.Deduplicated]),
            Outcomes.DeadLettered => ByFact([FactKind.TransformDeadLettered, FactKind.PublishDeadLettered]),
            Outcomes.Held => ByFact([FactKind.Held]),
            _ => Newest(query.Source),
        };
    }

    private static bool Matches(WebhookRow w, EventQuery q) =>
        (q.Term is not { Length: > 0 } term || IsTermOf(w, term.Trim()))
        && (q.Source is not { Length: > 0 } source || w.Source == source)
        && (q.Event is not { Length: > 0 } name || string.Equals(w.Event, name, StringComparison.OrdinalIgnoreCase))
        && (q.Since is not { } since || w.ReceivedAt >= since)
        && (q.Until is not { } until || w.ReceivedAt < until);

    private static bool IsTermOf(WebhookRow w, string term) =>
        w.Person == term || w.EventId == term || w.MessageId == term
        || (w.Email is { } email && string.Equals(email, term, StringComparison.OrdinalIgnoreCase));

    /// <summary>Webhooks whose person id, email, event_id or messageId is the term, newest first.</summary>
    public IEnumerable<WebhookRow> ByTerm(string term)
    {
        var exact = Ids.Hash(term);
        var lower = Ids.Hash(term.ToLowerInvariant());

        // A messageId cio-<event_id> is found through its event_id.
        var eventId = term.StartsWith("cio-", StringComparison.Ordinal) && term.Length > 4 ? Ids.Hash(term[4..]) : exact;
        foreach (var bucket in _buckets)
        {
            using var command = Command($"{EventIndex.SelectWebhook(bucket, "w.")} JOIN {EventIndex.Keys(bucket)} k ON k.rid = w.rid WHERE k.h IN ($a, $b, $c) ORDER BY w.rid DESC");
            command.Parameters.AddWithValue("$a", exact);
            command.Parameters.AddWithValue("$b", lower);
            command.Parameters.AddWithValue("$c", eventId);
            foreach (var w in Webhooks(command))
            {
                if (IsTermOf(w, term))
                {
                    yield return w;
                }
            }
        }
    }

    private IEnumerable<WebhookRow> Newest(string? source)
    {
        var scanned = 0;
        foreach (var bucket in _buckets)
        {
            using var command = Command($"{EventIndex.SelectWebhook(bucket)} {(source is { Length: > 0 } ? "WHERE source = $s " : "")}ORDER BY rid DESC LIMIT $n");
            command.Parameters.AddWithValue("$s", source ?? "");
            command.Parameters.AddWithValue("$n", MaxScanned - scanned);
            foreach (var w in Webhooks(command))
            {
                scanned++;
                yield return w;
            }

            if (scanned >= MaxScanned)
            {
                yield break;
            }
        }
    }

    private IEnumerable<WebhookRow> ByFact(FactKind[] kinds)
    {
        foreach (var (fact, _) in FactsOfKind(kinds, reason: null))
        {
            if (Owner(fact) is { } webhook)
            {
                yield return webhook;
            }
        }
    }

    /// <summary>Facts of these kinds, newest first (only kinds the index lists: filtered, deduplicated, dead letters, held).</summary>
    private IEnumerable<(Fact Fact, long Bucket)> FactsOfKind(FactKind[] kinds, string? reason)
    {
        var list = string.Join(", ", kinds.Select(k => (int)k));
        foreach (var bucket in _buckets)
        {
            using var command = Command($"{EventIndex.SelectFact(bucket)} WHERE kind IN ({list}){(reason is null ? "" : " AND reason = $r")} ORDER BY rid DESC");
            command.Parameters.AddWithValue("$r", reason ?? "");
            using var r = command.ExecuteReader();
            while (r.Read())
            {
                yield return (EventIndex.ReadFact(r), bucket);
            }
        }
    }

    /// <summary>The webhook a fact is about: by its raw coordinates, or by its source and messageId.</summary>
    public WebhookRow? Owner(Fact fact)
    {
        if (fact.Wid is { } wid)
        {
            return ByWid(wid);
        }

        if (fact.Ref is { } reference && reference.IndexOf('\n', StringComparison.Ordinal) is var cut and > 0)
        {
            var source = reference[..cut];
            var messageId = reference[(cut + 1)..];
            return ByTerm(messageId).FirstOrDefault(w => w.Source == source && w.MessageId == messageId);
        }

        return null;
    }

    /// <summary>The webhook of a raw record.</summary>
    public WebhookRow? ByWid(long wid)
    {
        if (_buckets.Count == 0)
        {
            return null;
        }

        if (_byWid is null)
        {
            _byWid = Command("SELECT * FROM (" + string.Join(" UNION ALL ", _buckets.Select(b => $"SELECT * FROM ({EventIndex.SelectWebhook(b)} WHERE wid = $w LIMIT 1)")) + ") LIMIT 1");
            _byWid.Parameters.Add("$w", SqliteType.Integer);
            _byWid.Prepare();
        }

        _byWid.Parameters[0].Value = wid;
        return Webhooks(_byWid).FirstOrDefault();
    }

    /// <summary>
    /// The webhooks of a source with this event id (every receipt: a retry and its original, a replay and its
    /// dead letter), oldest first. An id of the form <c>raw-P-O</c> names a raw record; a messageId works too.
    /// </summary>
    public IReadOnlyList<EventTrail> Trails(string source, string id)
    {
        IEnumerable<WebhookRow> rows;
        if (id.StartsWith("raw-", StringComparison.Ordinal) && id.Split('-') is [_, var p, var o] && int.TryParse(p, out var partition) && long.TryParse(o, out var offset))
        {
            rows = ByWid(Ids.Webhook(partition, offset)) is { } w ? [w] : [];
        }
        else
        {
            rows = ByTerm(id).Where(w => w.EventId == id || w.MessageId == id);
        }

        return [.. rows.Where(w => w.Source == source).OrderBy(w => w.ReceivedAt).ThenBy(w => w.Wid).Select(Trail)];
    }

    public EventTrail Trail(WebhookRow webhook)
    {
        var facts = FactsOf(webhook);
        return new EventTrail(Summarize(webhook, facts), facts);
    }

    public EventSummary Summarize(WebhookRow webhook) => Summarize(webhook, FactsOf(webhook));

    /// <summary>Every fact about the webhook (by its coordinates) and its track event (by source and messageId), oldest first.</summary>
    public IReadOnlyList<Fact> FactsOf(WebhookRow webhook)
    {
        var msg = webhook.MessageId is { } id ? Ids.Message(webhook.Source, id) : (long?)null;
        var facts = new List<Fact>();
        if (_buckets.Count == 0)
        {
            return facts;
        }

        // One prepared statement over every bucket, each branch an index lookup, reused for every webhook.
        if (_factsOf is null)
        {
            _factsOf = Command(string.Join(" UNION ALL ", _buckets.Select(b => $"{EventIndex.SelectFact(b)} WHERE wid = $w UNION ALL {EventIndex.SelectFact(b)} WHERE msg = $m")));
            _factsOf.Parameters.Add("$w", SqliteType.Integer);
            _factsOf.Parameters.Add("$m", SqliteType.Integer);
            _factsOf.Prepare();
        }

        _factsOf.Parameters[0].Value = webhook.Wid;
        _factsOf.Parameters[1].Value = (object?)msg ?? DBNull.Value;
        using (var r = _factsOf.ExecuteReader())
        {
            while (r.Read())
            {
                facts.Add(EventIndex.ReadFact(r));
            }
        }

        facts.Sort((a, b) => a.At != b.At ? a.At.CompareTo(b.At) : a.Kind.CompareTo(b.Kind));
        return facts;
    }

    /// <summary>
    /// The outcome the facts add up to: what the transformer said about this receipt (filtered, duplicate, dead
    /// letter) comes first; otherwise its track event's latest word: delivered (a 2xx), dead-lettered by the
    /// publisher, held, mapped (in the sink topic, maybe being retried); otherwise stored.
    /// </summary>
    public static EventSummary Summarize(WebhookRow webhook, IReadOnlyList<Fact> facts)
    {
        var attempts = 0;
        var lastStatus = 0;
        long? deliveredAt = null;
        Fact? transform = null, publishDeadLetter = null, held = null, mapped = null;
        foreach (var f in facts)
        {
            switch (f.Kind)
            {
                case FactKind.Filtered or FactKind.Deduplicated or FactKind.TransformDeadLettered when f.Wid == webhook.Wid:
                    transform ??= f;
                    break;
                case FactKind.Attempt:
                    attempts++;
                    lastStatus = f.Status;
                    if (f.Status is >= 200 and < 300)
                    {
                        deliveredAt ??= f.At;
                    }

                    break;
                case FactKind.PublishDeadLettered:
                    publishDeadLetter = f;
                    break;
                case FactKind.Held:
                    held = f;
                    break;
                case FactKind.Mapped:
                    mapped ??= f;
                    break;
            }
        }

        if (transform is { } t)
        {
            var outcome = t.Kind switch
            {
                FactKind.Filtered => Outcomes.Filtered,
                FactKind.Deduplicated => Outcomes.Deduplicated,
                _ => Outcomes.DeadLettered,
            };
            return new EventSummary(webhook, outcome, t.Reason, "transform", null, 0, 0);
        }

        if (deliveredAt is { } at)
        {
            return new EventSummary(webhook, Outcomes.Delivered, null, "publish", at, attempts, lastStatus);
        }

        if (publishDeadLetter is { } d)
        {
            return new EventSummary(webhook, Outcomes.DeadLettered, d.Reason, "publish", null, attempts, lastStatus);
        }

        if (held is not null)
        {
            return new EventSummary(webhook, Outcomes.Held, lastStatus == 0 ? null : "last answer " + lastStatus, "publish", null, attempts, lastStatus);
        }

        if (mapped is not null || attempts > 0)
        {
            return new EventSummary(webhook, Outcomes.Mapped, attempts > 0 ? "last answer " + (lastStatus == 0 ? "none" : lastStatus.ToString(System.Globalization.CultureInfo.InvariantCulture)) : null, "publish", null, attempts, lastStatus);
        }

        return new EventSummary(webhook, Outcomes.Stored, null, "ingest", null, 0, 0);
    }

    /// <summary>Dead letters, newest first, optionally of one reason, with the webhook each came from.</summary>
    public IReadOnlyList<DeadLetterEntry> DeadLetters(string? reason, int limit)
    {
        var list = new List<DeadLetterEntry>();
        foreach (var (fact, _) in FactsOfKind([FactKind.TransformDeadLettered, FactKind.PublishDeadLettered], string.IsNullOrEmpty(reason) ? null : reason))
        {
            var owner = Owner(fact);
            list.Add(new DeadLetterEntry(fact, owner is null ? null : Summarize(owner)));
            if (list.Count >= limit)
            {
                break;
            }
        }

        return list;
    }

    /// <summary>Dead letters in the index by stage and reason.</summary>
    public IReadOnlyList<(string Stage, string Reason, long Count)> DeadLetterReasons()
    {
        var counts = new Dictionary<(string, string), long>();
        foreach (var bucket in _buckets)
        {
            using var command = Command($"SELECT kind, reason, count(*) FROM {EventIndex.Facts(bucket)} WHERE kind IN (4, 7) GROUP BY kind, reason");
            using var r = command.ExecuteReader();
            while (r.Read())
            {
                var key = ((FactKind)r.GetInt32(0) == FactKind.TransformDeadLettered ? "transform" : "publish", r.IsDBNull(1) ? "" : r.GetString(1));
                counts[key] = counts.GetValueOrDefault(key) + r.GetInt64(2);
            }
        }

        return [.. counts.OrderByDescending(c => c.Value).Select(c => (c.Key.Item1, c.Key.Item2, c.Value))];
    }

    /// <summary>The sources with a webhook in the index, for the filters.</summary>
    public IReadOnlyList<string> Sources()
    {
        var oldest = 0L;
        if (_buckets.Count > 0)
        {
            using var first = Command($"SELECT first_at FROM buckets WHERE id = {_buckets[^1].ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            oldest = first.ExecuteScalar() is long at ? at : 0;
        }

        using var command = Command("SELECT source FROM sources WHERE last_at >= $oldest ORDER BY source");
        command.Parameters.AddWithValue("$oldest", oldest);
        var sources = new List<string>();
        using var r = command.ExecuteReader();
        while (r.Read())
        {
            sources.Add(r.GetString(0));
        }

        return sources;
    }

    private SqliteCommand Command(string sql) => EventIndex.Command(_connection, sql, _transaction);

    private static IEnumerable<WebhookRow> Webhooks(SqliteCommand command)
    {
        using var r = command.ExecuteReader();
        while (r.Read())
        {
            yield return EventIndex.ReadWebhook(r);
        }
    }

    public void Dispose()
    {
        _factsOf?.Dispose();
        _byWid?.Dispose();
        _transaction.Dispose();
        _connection.Dispose();
    }
}
