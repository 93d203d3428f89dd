using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace CioSegment.Inspector.Index;

/// <summary>
/// The inspector's index in SQLite: what became of every webhook, by time bucket. A bucket is three tables
/// (webhooks <c>w_N</c>, search keys <c>k_N</c>, facts <c>f_N</c>) and holds a fraction of the retention
/// (<see cref="Buckets"/>; by time or by count, whichever fills first). Search keys and track-event ids are
/// hashes, so their inserts land on random B-tree pages; a small bucket keeps the pages a commit dirties
/// few (measured in docs/benchmarks.md), and retention drops whole buckets instead of deleting rows. Facts are filed in the bucket of their own
/// time and found from any bucket: a webhook's track event may be delivered hours after it arrived.
/// <para>
/// One writer (the indexer) commits records and the Kafka positions they came from in one transaction, so
/// a restart goes on exactly where the index ends. Readers get a snapshot (WAL) per query.
/// </para>
/// </summary>
public sealed class EventIndex : IDisposable
{
    /// <summary>Default number of buckets a full index is split into (15 minutes each for 24 h).</summary>
    public const int DefaultBuckets = 96;

    /// <summary>At most: a webhook's facts are read with one statement of two branches per bucket (SQLite allows 500).</summary>
    public const int MaxBuckets = 200;

    private const string WebhookColumns = "rid, wid, source, event_id, message_id, person, email, event, received_at, size, replayed_from";
    private const string FactColumns = "wid, msg, kind, status, attempt, reason, at, topic, partition, offset, ref";

    private readonly string _readConnectionString;
    private readonly SqliteConnection _writer;
    private readonly long _retentionMs;
    private readonly long _bucketSpanMs;
    private readonly long _maxWebhooks;
    private readonly long _bucketWebhooks;
    private readonly TimeProvider _time;
    private readonly Lock _writeLock = new();
    private Bucket? _current;
    private long _total;

    private sealed class Bucket
    {
        public long Id;
        public long FirstAt;
        public long LastAt;
        public long Webhooks;
        public SqliteCommand? InsertWebhook;
        public SqliteCommand? InsertKey;
        public SqliteCommand? InsertFact;
    }

    /// <param name="cacheMegabytes">SQLite's page cache of the writer: the current bucket's search keys and fact indexes should fit (about 150 MB per million webhooks of a bucket).</param>
    /// <param name="buckets">How many buckets a full index is split into (<see cref="DefaultBuckets"/>, at most <see cref="MaxBuckets"/>).</param>
    public EventIndex(string path, TimeSpan retention, long maxWebhooks, TimeProvider? time = null, int cacheMegabytes = 256, int buckets = DefaultBuckets)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(buckets, MaxBuckets);
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        Buckets = buckets;
        _time = time ?? TimeProvider.System;
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false };
        _writer = new SqliteConnection(builder.ToString());
        _writer.Open();
        Execute(_writer, $$"""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            PRAGMA temp_store=MEMORY;
            PRAGMA cache_size=-{{cacheMegabytes * 1024}};
            CREATE TABLE IF NOT EXISTS buckets(id INTEGER PRIMARY KEY, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, webhooks INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS positions(topic TEXT NOT NULL, partition INTEGER NOT NULL, next INTEGER NOT NULL, PRIMARY KEY(topic, partition)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS sources(source TEXT PRIMARY KEY, last_at INTEGER NOT NULL) WITHOUT ROWID;
            """);
        _readConnectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = true }.ToString();
        _retentionMs = (long)retention.TotalMilliseconds;
        _bucketSpanMs = Math.Max(1, _retentionMs / buckets);
        _maxWebhooks = maxWebhooks;
        _bucketWebhooks = Math.Max(1, maxWebhooks / buckets);

        using var read = Command(_writer, "SELECT id, first_at, last_at, webhooks FROM buckets ORDER BY id");
        using var r = read.ExecuteReader();
        while (r.Read())
        {
            _current = new Bucket { Id = r.GetInt64(0), FirstAt = r.GetInt64(1), LastAt = r.GetInt64(2), Webhooks = r.GetInt64(3) };
            _total += _current.Webhooks;
        }
    }

    public string Path => _writer.DataSource;

    /// <summary>Deletes an index file and SQLite's write-ahead log and shared-memory files beside it.</summary>
    public static void DeleteFiles(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
    }

    /// <summary>How many buckets a full index is split into.</summary>
    public int Buckets { get; }

    /// <summary>Webhooks in the index now.</summary>
    public long WebhookCount => Interlocked.Read(ref _total);

    /// <summary>Where the index ends, per topic and partition: the next offset to read.</summary>
    public Dictionary<(string Topic, int Partition), long> Positions()
    {
        lock (_writeLock)
        {
            var positions = new Dictionary<(string, int), long>();
            using var command = Command(_writer, "SELECT topic, partition, next FROM positions");
            using var r = command.ExecuteReader();
            while (r.Read())
            {
                positions[(r.GetString(0), r.GetInt32(1))] = r.GetInt64(2);
            }

            return positions;
        }
    }

    /// <summary>Adds webhooks and facts and moves the positions, in one transaction; then drops what retention lets go.</summary>
    public void Write(IReadOnlyList<WebhookRow> webhooks, IReadOnlyList<Fact> facts, IReadOnlyCollection<KeyValuePair<(string Topic, int Partition), long>> positions)
    {
        lock (_writeLock)
        {
            using var transaction = _writer.BeginTransaction();
            var bucket = CurrentBucket(webhooks, facts, transaction);
            foreach (var webhook in webhooks)
            {
                Insert(bucket, webhook, transaction);
            }

            foreach (var fact in facts)
            {
                Insert(bucket, fact, transaction);
            }

            foreach (var at in webhooks.Select(w => w.ReceivedAt).Concat(facts.Select(f => f.At)))
            {
                bucket.FirstAt = Math.Min(bucket.FirstAt, at);
                bucket.LastAt = Math.Max(bucket.LastAt, at);
            }

            bucket.Webhooks += webhooks.Count;
            using (var update = Command(_writer, "UPDATE buckets SET first_at=$f, last_at=$l, webhooks=$w WHERE id=$id", transaction))
            {
                update.Parameters.AddWithValue("$f", bucket.FirstAt);
                update.Parameters.AddWithValue("$l", bucket.LastAt);
                update.Parameters.AddWithValue("$w", bucket.Webhooks);
                update.Parameters.AddWithValue("$id", bucket.Id);
                update.ExecuteNonQuery();
            }

            if (positions.Count > 0)
            {
                using var upsert = Command(_writer, "INSERT INTO positions(topic, partition, next) VALUES($t, $p, $n) ON CONFLICT(topic, partition) DO UPDATE SET next=excluded.next", transaction);
                var t = upsert.Parameters.Add("$t", SqliteType.Text);
                var p = upsert.Parameters.Add("$p", SqliteType.Integer);
                var n = upsert.Parameters.Add("$n", SqliteType.Integer);
                foreach (var ((topic, partition), next) in positions)
                {
                    t.Value = topic;
                    p.Value = partition;
                    n.Value = next;
                    upsert.ExecuteNonQuery();
                }
            }

            if (webhooks.Count > 0)
            {
                using var seen = Command(_writer, "INSERT INTO sources(source, last_at) VALUES($s, $at) ON CONFLICT(source) DO UPDATE SET last_at = max(last_at, excluded.last_at)", transaction);
                var source = seen.Parameters.Add("$s", SqliteType.Text);
                var last = seen.Parameters.Add("$at", SqliteType.Integer);
                foreach (var group in webhooks.GroupBy(w => w.Source, StringComparer.Ordinal))
                {
                    source.Value = group.Key;
                    last.Value = group.Max(w => w.ReceivedAt);
                    seen.ExecuteNonQuery();
                }
            }

            Interlocked.Add(ref _total, webhooks.Count);
            DropExpired(transaction);
            transaction.Commit();
        }
    }

    private Bucket CurrentBucket(IReadOnlyList<WebhookRow> webhooks, IReadOnlyList<Fact> facts, SqliteTransaction transaction)
    {
        var first = webhooks.Count > 0 ? webhooks[0].ReceivedAt : facts.Count > 0 ? facts[0].At : _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_current is { } current && current.Webhooks < _bucketWebhooks && Math.Max(current.LastAt, first) - current.FirstAt < _bucketSpanMs)
        {
            return Prepared(current, transaction);
        }

        var bucket = new Bucket { Id = (_current?.Id ?? 0) + 1, FirstAt = first, LastAt = first };
        var n = bucket.Id.ToString(CultureInfo.InvariantCulture);
        Execute(_writer, $"""
            CREATE TABLE w_{n}(rid INTEGER PRIMARY KEY, wid INTEGER NOT NULL, source TEXT NOT NULL, event_id TEXT, message_id TEXT, person TEXT NOT NULL, email TEXT, event TEXT, received_at INTEGER NOT NULL, size INTEGER NOT NULL, replayed_from TEXT);
            CREATE INDEX w_{n}_wid ON w_{n}(wid);
            CREATE TABLE k_{n}(h INTEGER NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY(h, rid)) WITHOUT ROWID;
            CREATE TABLE f_{n}(rid INTEGER PRIMARY KEY, wid INTEGER, msg INTEGER, kind INTEGER NOT NULL, status INTEGER NOT NULL, attempt INTEGER NOT NULL, reason TEXT, at INTEGER NOT NULL, topic INTEGER NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, ref TEXT);
            CREATE INDEX f_{n}_wid ON f_{n}(wid) WHERE wid IS NOT NULL;
            CREATE INDEX f_{n}_msg ON f_{n}(msg) WHERE msg IS NOT NULL;
            CREATE INDEX f_{n}_kind ON f_{n}(kind) WHERE kind IN (2, 3, 4, 5, 7);
            INSERT INTO buckets(id, first_at, last_at, webhooks) VALUES({n}, {first}, {first}, 0);
            """, transaction);
        Dispose(_current);
        _current = bucket;
        return Prepared(bucket, transaction);
    }

    private Bucket Prepared(Bucket bucket, SqliteTransaction transaction)
    {
        if (bucket.InsertWebhook is null)
        {
            var n = bucket.Id.ToString(CultureInfo.InvariantCulture);
            bucket.InsertWebhook = Command(_writer, $"INSERT INTO w_{n}(wid, source, event_id, message_id, person, email, event, received_at, size, replayed_from) VALUES($wid, $source, $event_id, $message_id, $person, $email, $event, $received_at, $size, $replayed_from) RETURNING rid");
            foreach (var name in new[] { "$wid", "$source", "$event_id", "$message_id", "$person", "$email", "$event", "$received_at", "$size", "$replayed_from" })
            {
                bucket.InsertWebhook.Parameters.AddWithValue(name, DBNull.Value);
            }

            bucket.InsertKey = Command(_writer, $"INSERT OR IGNORE INTO k_{n}(h, rid) VALUES($h, $rid)");
            bucket.InsertKey.Parameters.Add("$h", SqliteType.Integer);
            bucket.InsertKey.Parameters.Add("$rid", SqliteType.Integer);
            bucket.InsertFact = Command(_writer, $"INSERT INTO f_{n}({FactColumns}) VALUES($wid, $msg, $kind, $status, $attempt, $reason, $at, $topic, $partition, $offset, $ref)");
            foreach (var name in new[] { "$wid", "$msg", "$kind", "$status", "$attempt", "$reason", "$at", "$topic", "$partition", "$offset", "$ref" })
            {
                bucket.InsertFact.Parameters.AddWithValue(name, DBNull.Value);
            }
        }

        bucket.InsertWebhook.Transaction = transaction;
        bucket.InsertKey!.Transaction = transaction;
        bucket.InsertFact!.Transaction = transaction;
        return bucket;
    }

    private static void Insert(Bucket bucket, WebhookRow w, SqliteTransaction transaction)
    {
        var c = bucket.InsertWebhook!;
        var p = c.Parameters;
        p[0].Value = w.Wid;
        p[1].Value = w.Source;
        p[2].Value = (object?)w.EventId ?? DBNull.Value;
        p[3].Value = (object?)w.MessageId ?? DBNull.Value;
        p[4].Value = w.Person;
        p[5].Value = (object?)w.Email ?? DBNull.Value;
        p[6].Value = (object?)w.Event ?? DBNull.Value;
        p[7].Value = w.ReceivedAt;
        p[8].Value = w.Size;
        p[9].Value = (object?)w.ReplayedFrom ?? DBNull.Value;
        var rid = (long)c.ExecuteScalar()!;

        var k = bucket.InsertKey!;
        k.Transaction = transaction;
        k.Parameters[1].Value = rid;
        foreach (var key in SearchKeys(w))
        {
            k.Parameters[0].Value = key;
            k.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// The terms a webhook is found by: person id, email (lower case), event_id, messageId (only when it is not
    /// <c>cio-</c> + event_id, which a search finds through the event_id).
    /// </summary>
    private static IEnumerable<long> SearchKeys(WebhookRow w)
    {
        yield return Ids.Hash(w.Person);
        if (w.Email is { } email)
        {
            yield return Ids.Hash(email.ToLowerInvariant());
        }

        if (w.EventId is { } eventId)
        {
            yield return Ids.Hash(eventId);
        }

        if (w.MessageId is { } messageId && !(w.EventId is { } id && messageId.Length == id.Length + 4 && messageId.StartsWith("cio-", StringComparison.Ordinal) && messageId.EndsWith(id, StringComparison.Ordinal)))
        {
            yield return Ids.Hash(messageId);
        }
    }

    private static void Insert(Bucket bucket, Fact f, SqliteTransaction transaction)
    {
        var c = bucket.InsertFact!;
        c.Transaction = transaction;
        var p = c.Parameters;
        p[0].Value = (object?)f.Wid ?? DBNull.Value;
        p[1].Value = (object?)f.Msg ?? DBNull.Value;
        p[2].Value = (int)f.Kind;
        p[3].Value = f.Status;
        p[4].Value = f.Attempt;
        p[5].Value = (object?)f.Reason ?? DBNull.Value;
        p[6].Value = f.At;
        p[7].Value = (int)f.Topic;
        p[8].Value = f.Partition;
        p[9].Value = f.Offset;
        p[10].Value = (object?)f.Ref ?? DBNull.Value;
        c.ExecuteNonQuery();
    }

    private void DropExpired(SqliteTransaction transaction)
    {
        var horizon = _time.GetUtcNow().ToUnixTimeMilliseconds() - _retentionMs;
        while (true)
        {
            long id, lastAt, count;
            using (var oldest = Command(_writer, "SELECT id, last_at, webhooks FROM buckets ORDER BY id LIMIT 1", transaction))
            using (var r = oldest.ExecuteReader())
            {
                if (!r.Read())
                {
                    return;
                }

                (id, lastAt, count) = (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
            }

            if (id == _current?.Id || (lastAt >= horizon && Interlocked.Read(ref _total) <= _maxWebhooks))
            {
                return;
            }

            var n = id.ToString(CultureInfo.InvariantCulture);
            Execute(_writer, $"DROP TABLE w_{n}; DROP TABLE k_{n}; DROP TABLE f_{n}; DELETE FROM buckets WHERE id={n};", transaction);
            Interlocked.Add(ref _total, -count);
        }
    }

    // ---- reading ----

    /// <summary>A read-only snapshot of the index for one request.</summary>
    public IndexSnapshot Read()
    {
        var connection = new SqliteConnection(_readConnectionString);
        connection.Open();
        var transaction = connection.BeginTransaction(deferred: true);
        var buckets = new List<long>();
        using (var command = Command(connection, "SELECT id FROM buckets ORDER BY id DESC", transaction))
        using (var r = command.ExecuteReader())
        {
            while (r.Read())
            {
                buckets.Add(r.GetInt64(0));
            }
        }

        return new IndexSnapshot(connection, transaction, buckets);
    }

    internal static SqliteCommand Command(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = Command(connection, sql, transaction);
        command.ExecuteNonQuery();
    }

    private static void Dispose(Bucket? bucket)
    {
        bucket?.InsertWebhook?.Dispose();
        bucket?.InsertKey?.Dispose();
        bucket?.InsertFact?.Dispose();
    }

    public void Dispose()
    {
        lock (_writeLock)
        {
            Dispose(_current);
            _writer.Dispose();
        }
    }

    internal static WebhookRow ReadWebhook(SqliteDataReader r, int at = 0) => new(
        Wid: r.GetInt64(at + 1),
        Source: r.GetString(at + 2),
        EventId: r.IsDBNull(at + 3) ? null : r.GetString(at + 3),
        MessageId: r.IsDBNull(at + 4) ? null : r.GetString(at + 4),
        Person: r.GetString(at + 5),
        Email: r.IsDBNull(at + 6) ? null : r.GetString(at + 6),
        Event: r.IsDBNull(at + 7) ? null : r.GetString(at + 7),
        ReceivedAt: r.GetInt64(at + 8),
        Partition: Ids.Coordinates(r.GetInt64(at + 1)).Partition,
        Offset: Ids.Coordinates(r.GetInt64(at + 1)).Offset,
        Size: r.GetInt32(at + 9),
        ReplayedFrom: r.IsDBNull(at + 10) ? null : r.GetString(at + 10));

    internal static Fact ReadFact(SqliteDataReader r) => new(
        Wid: r.IsDBNull(0) ? null : r.GetInt64(0),
        Msg: r.IsDBNull(1) ? null : r.GetInt64(1),
        Kind: (FactKind)r.GetInt32(2),
        Status: r.GetInt32(3),
        Attempt: r.GetInt32(4),
        Reason: r.IsDBNull(5) ? null : r.GetString(5),
        At: r.GetInt64(6),
        Topic: (TopicCode)r.GetInt32(7),
        Partition: r.GetInt32(8),
        Offset: r.GetInt64(9),
        Ref: r.IsDBNull(10) ? null : r.GetString(10));

    internal static string Webhooks(long bucket) => "w_" + bucket.ToString(CultureInfo.InvariantCulture);

    internal static string Keys(long bucket) => "k_" + bucket.ToString(CultureInfo.InvariantCulture);

    internal static string Facts(long bucket) => "f_" + bucket.ToString(CultureInfo.InvariantCulture);

    internal static string SelectWebhook(long bucket, string alias = "") =>
        "SELECT " + string.Join(", ", WebhookColumns.Split(", ").Select(c => alias + c)) + " FROM " + Webhooks(bucket) + (alias.Length > 0 ? " " + alias.TrimEnd('.') : "");

    internal static string SelectFact(long bucket) => $"SELECT {FactColumns} FROM {Facts(bucket)}";

    internal static string Join(IEnumerable<string> parts, string separator) => new StringBuilder().AppendJoin(separator, parts).ToString();
}
