using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CioSegment.Contracts;

namespace CioSegment.LoadTest;

/// <summary>The fuzz run: the attack families that generate the requests, and the webhook envelope they start from.</summary>
internal static partial class FuzzCommand
{
    private sealed partial class FuzzRun
    {

        private Case Generate(Random rng, long index)
        {
            var roll = rng.Next(MixTotal);
            var category = Mix[^1].Category;
            foreach (var (c, weight) in Mix)
            {
                if (roll < weight)
                {
                    category = c;
                    break;
                }

                roll -= weight;
            }

            return category switch
            {
                Category.RandomBytes => RandomBytes(rng),
                Category.Truncated => Truncated(rng, index),
                Category.Mutated => Mutated(rng, index),
                Category.DeepNesting => DeepNesting(rng),
                Category.Huge => Huge(rng, index),
                Category.Oversize => Oversize(rng),
                Category.WrongType => WrongType(rng, index),
                Category.InvalidUtf8 => InvalidUtf8(rng, index),
                Category.LoneSurrogate => LoneSurrogate(rng, index),
                Category.BadSignature => BadSignature(rng, index),
                Category.UnknownSource => UnknownSource(rng, index),
                Category.PathJunk => PathJunk(rng, index),
                Category.WrongMethod => WrongMethod(rng, index),
                Category.HeaderJunk => HeaderJunk(rng, index),
                _ => new Case(Category.Valid, "signed", Post(_webhooks.Body(index), rng)),
            };
        }

        private Uri Url(string path) => new(_authority + path);

        /// <summary>POST to <paramref name="path"/>, correctly signed unless <paramref name="signed"/> is false.</summary>
        private HttpRequestMessage Post(byte[] body, Random rng, bool signed = true, string? path = null, bool chunked = false, HttpMethod? method = null)
        {
            var request = new HttpRequestMessage(method ?? HttpMethod.Post, Url(path ?? $"/webhooks/customerio/{Source}"))
            {
                Content = chunked ? new ChunkedContent(body, 1 + rng.Next(64 * 1024)) : new ByteArrayContent(body),
            };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            if (signed)
            {
                var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
                request.Headers.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp);
                request.Headers.TryAddWithoutValidation(WebhookSignature.SignatureHeader, WebhookSignature.Sign(_key, timestamp, body));
            }

            return request;
        }

        private Case RandomBytes(Random rng)
        {
            var shape = rng.Next(6);
            var length = shape switch
            {
                0 => rng.Next(0, 2),
                1 => rng.Next(1, 64),
                2 => rng.Next(64, 4096),
                3 => rng.Next(4096, 65536),
                _ => rng.Next(1, 2048),
            };
            var body = new byte[length];
            string variant;
            if (shape == 4)
            {
                // JSON-ish token soup: much more likely than noise to get deep into the reader.
                const string alphabet = "{}[]\":,0123456789.eE+-tfnrulas \\/u\n";
                for (var i = 0; i < body.Length; i++)
                {
                    body[i] = (byte)alphabet[rng.Next(alphabet.Length)];
                }

                variant = "json-soup";
            }
            else if (shape == 5)
            {
                for (var i = 0; i < body.Length; i++)
                {
                    body[i] = (byte)rng.Next(0x20, 0x7F);
                }

                variant = "printable";
            }
            else
            {
                rng.NextBytes(body);
                variant = length switch { < 2 => "empty-or-1", < 64 => "small", < 4096 => "medium", _ => "large" };
            }

            var signed = rng.Next(10) < 8;
            return new Case(Category.RandomBytes, variant + (signed ? "" : "-unsigned"), Post(body, rng, signed));
        }

        private Case Truncated(Random rng, long index)
        {
            var valid = _webhooks.Body(index);
            var cut = rng.Next(4) == 0 ? rng.Next(0, 8) : rng.Next(0, valid.Length);
            return new Case(Category.Truncated, rng.Next(2) == 0 ? "prefix" : "prefix-ws", Post(rng.Next(2) == 0 ? valid[..cut] : [.. valid[..cut], .. " \n\t"u8.ToArray()], rng));
        }

        private Case Mutated(Random rng, long index)
        {
            var body = new List<byte>(_webhooks.Body(index));
            var count = 1 + rng.Next(8);
            const string significant = "{}[]\":,\\ 0-.eE+tfnu\u0000";
            for (var m = 0; m < count && body.Count > 0; m++)
            {
                var at = rng.Next(body.Count);
                switch (rng.Next(7))
                {
                    case 0:
                        body[at] ^= (byte)(1 << rng.Next(8));
                        break;
                    case 1:
                        body[at] = (byte)significant[rng.Next(significant.Length)];
                        break;
                    case 2:
                        body.RemoveRange(at, Math.Min(body.Count - at, 1 + rng.Next(16)));
                        break;
                    case 3:
                    {
                        var len = Math.Min(body.Count - at, 1 + rng.Next(64));
                        body.InsertRange(rng.Next(body.Count), body.GetRange(at, len));
                        break;
                    }

                    case 4:
                        body.Insert(at, (byte)significant[rng.Next(significant.Length)]);
                        break;
                    case 5:
                        body.Insert(at, (byte)rng.Next(256));
                        break;
                    default:
                        // Duplicate the whole object after itself, or a stray value after the root.
                        body.AddRange(rng.Next(2) == 0 ? [.. body] : "1"u8.ToArray());
                        break;
                }
            }

            return new Case(Category.Mutated, count <= 2 ? "1-2-edits" : "3-8-edits", Post([.. body], rng));
        }

        private Case DeepNesting(Random rng)
        {
            var depth = rng.Next(4) switch { 0 => 10_000, 1 => 100_000, 2 => 63 + rng.Next(4), _ => 1_000 + rng.Next(20_000) };
            var variant = rng.Next(6);
            var sb = new StringBuilder(depth * 8);
            string name;
            switch (variant)
            {
                case 0:
                    sb.Append('[', depth);
                    name = "open-brackets";
                    break;
                case 1:
                    sb.Append('[', depth).Append(']', depth);
                    name = "balanced-brackets";
                    break;
                case 2:
                    sb.Append("{\"data\":").Append('[', depth).Append(']', depth).Append(",\"event_id\":\"deep\",\"object_type\":\"email\",\"metric\":\"sent\"}");
                    name = "data-array";
                    break;
                case 3:
                    for (var i = 0; i < depth; i++)
                    {
                        sb.Append("{\"a\":");
                    }

                    sb.Append('1').Append('}', depth);
                    name = "objects";
                    break;
                case 4:
                    sb.Append("{\"event_id\":\"deep\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1700000000,\"data\":{\"identifiers\":{\"id\":");
                    for (var i = 0; i < depth; i++)
                    {
                        sb.Append("{\"id\":");
                    }

                    sb.Append("\"x\"").Append('}', depth).Append("}}}");
                    name = "identifiers-id";
                    break;
                default:
                    sb.Append("{\"event_id\":\"deep\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1700000000,\"data\":{\"recipients\":");
                    sb.Append('[', depth).Append("\"x\"").Append(']', depth).Append("}}");
                    name = "recipients";
                    break;
            }

            var bucket = depth switch { < 100 => "depth-64", < 10_000 => "depth-1k-20k", 10_000 => "depth-10k", _ => "depth-100k" };
            return new Case(Category.DeepNesting, name + "-" + bucket, Post(Encoding.ASCII.GetBytes(sb.ToString()), rng));
        }

        private Case Huge(Random rng, long index)
        {
            var big = new string('a', 900 * 1024);
            var person = $"huge-{index}";
            var variant = rng.Next(9);
            string json;
            string name;
            switch (variant)
            {
                case 0:
                    json = Envelope(index, ("data.subject", Quote(big)));
                    name = "subject-900k";
                    break;
                case 1:
                    json = Envelope(index, ("data.identifiers.id", Quote(big)));
                    name = "person-id-900k";
                    break;
                case 2:
                    json = Envelope(index, ("data.identifiers", "{}"), ("event_id", Quote(big)));
                    name = "event-id-900k";
                    break;
                case 3:
                    json = Envelope(index, ("data.unknown_member", Quote(big)), ("data.identifiers.id", Quote(person)));
                    name = "unknown-member-900k";
                    break;
                case 4:
                    json = new string(' ', 900 * 1024) + Envelope(index);
                    name = "whitespace-900k";
                    break;
                case 5:
                    json = Envelope(index, ("data.subject", Quote(string.Concat(Enumerable.Repeat("\\u0041", 150 * 1024)))));
                    name = "escapes-900k";
                    break;
                case 6:
                    json = Envelope(index, ("data.recipients", "[" + string.Join(',', Enumerable.Range(0, 150_000).Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]"));
                    name = "array-150k-items";
                    break;
                case 7:
                    // Just under the ingest's 1 MiB limit.
                    json = Envelope(index, ("data.subject", Quote("")));
                    json = json.Replace("\"subject\":\"\"", "\"subject\":\"" + new string('b', MaxBodyBytes - json.Length) + "\"", StringComparison.Ordinal);
                    name = "body-exactly-1mib";
                    break;
                default:
                    json = Envelope(index, ("data.failure_message", Quote(big)), ("data.identifiers.email", Quote(big[..(60 * 1024)] + "@example.com")));
                    name = "failure-900k-email-60k";
                    break;
            }

            var chunked = rng.Next(3) == 0;
            return new Case(Category.Huge, name + (chunked ? "-chunked" : ""), Post(Encoding.UTF8.GetBytes(json), rng, chunked: chunked));
        }

        private Case Oversize(Random rng)
        {
            var variant = rng.Next(4);
            var size = variant switch { 0 or 1 => 2 * 1024 * 1024, 2 => MaxBodyBytes + 1, _ => 8 * 1024 * 1024 };
            var body = new byte[size];
            body.AsSpan().Fill((byte)'a');
            "{\"data\":{\"subject\":\""u8.CopyTo(body);
            "\"}}"u8.CopyTo(body.AsSpan(size - 3));
            var chunked = variant is 1 or 3 || rng.Next(2) == 0;
            var name = (variant switch { 0 or 1 => "2mb", 2 => "1mib-plus-1", _ => "8mb" }) + (chunked ? "-chunked" : "-content-length");
            return new Case(Category.Oversize, name, Post(body, rng, signed: rng.Next(4) != 0, chunked: chunked));
        }

        private static readonly string[] WrongTypeTargets =
        [
            "event_id", "object_type", "metric", "timestamp", "data",
            "data.identifiers", "data.identifiers.id", "data.identifiers.email", "data.identifiers.cio_id",
            "data.customer_id", "data.email_address", "data.recipient", "data.recipients", "data.subject",
            "data.action_id", "data.campaign_id", "data.broadcast_id", "data.delivery_id", "data.journey_id",
            "data.href", "data.link_id", "data.content", "data.failure_message", "data.trigger_id",
            "data.newsletter_id", "data.transactional_message_id", "data.parent_action_id",
        ];

        private static readonly string[] WrongValues =
        [
            "null", "true", "false", "0", "-1", "1.5", "-0", "1e308", "-1e308", "1e999", "-1e-999", "1E+2",
            "123456789012345678901234567890123456789", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
            "253402300799", "253402300800", "253402300799.9999", "0.0004", "-62135596800",
            "\"\"", "\" \"", "\"x\"", "\"1700000000\"", "\"1.7e9\"", "\"2024-01-01T00:00:00Z\"", "\"NaN\"", "\"Infinity\"",
            "\"\\u0000\"", "\"\\ud800\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"emaIL\"", "\"EMAIL\"", "\"fax\"", "\"opened \"",
            "[]", "[1,\"a\",null,{}]", "{}", "{\"a\":{\"b\":[]}}", "{\"id\":\"x\"}", "[[[[[]]]]]",
            "<omit>", "<dup-null>", "<dup-object>",
        ];

        private Case WrongType(Random rng, long index)
        {
            // Every target meets every value over the run; the order is seeded.
            var target = WrongTypeTargets[rng.Next(WrongTypeTargets.Length)];
            var value = WrongValues[rng.Next(WrongValues.Length)];
            if (value == "\"x\"" && rng.Next(4) == 0)
            {
                value = Quote(new string('x', 10_000 + rng.Next(40_000)));
            }

            var json = Envelope(index, (target, value));
            var shortValue = value.Length > 24 ? value[..24] + "…" : value;
            return new Case(Category.WrongType, $"{target}={shortValue}", Post(Encoding.UTF8.GetBytes(json), rng));
        }

        private static readonly byte[][] BadUtf8 =
        [
            [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFE, 0xFF],
            [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC3], [0xE0, 0x80, 0x80], [0xEF, 0xBF, 0xBE],
        ];

        private Case InvalidUtf8(Random rng, long index)
        {
            var bad = BadUtf8[rng.Next(BadUtf8.Length)];
            var where = rng.Next(6);
            byte[] body;
            string name;
            if (where == 5)
            {
                // The whole body in UTF-16 with a BOM.
                body = [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes(Envelope(index))];
                name = "utf16-body";
            }
            else
            {
                var marker = where switch { 0 => "@@SUBJ@@", 1 => "@@ID@@", 2 => "@@EVT@@", 3 => "@@NAME@@", _ => "" };
                var json = where switch
                {
                    0 => Envelope(index, ("data.subject", "\"a" + marker + "b\"")),
                    1 => Envelope(index, ("data.identifiers.id", "\"p" + marker + "\"")),
                    2 => Envelope(index, ("event_id", "\"" + marker + "\"")),
                    3 => Envelope(index, ("data.x" + marker, "1")),
                    _ => Envelope(index),
                };
                var utf8 = Encoding.UTF8.GetBytes(json);
                if (marker.Length == 0)
                {
                    body = [.. utf8, .. bad];
                    name = "after-root";
                }
                else
                {
                    var m = Encoding.ASCII.GetBytes(marker);
                    var at = utf8.AsSpan().IndexOf(m);
                    body = [.. utf8[..at], .. bad, .. utf8[(at + m.Length)..]];
                    name = where switch { 0 => "in-subject", 1 => "in-person-id", 2 => "in-event-id", _ => "in-member-name" };
                }
            }

            return new Case(Category.InvalidUtf8, name, Post(body, rng));
        }

        private static readonly string[] Surrogates =
        [
            "\\ud800", "\\udfff", "\\ud800\\u0041", "\\udfff\\ud800", "\\ud83d\\ude00", "\\ud83d", "a\\ude00b", "\\u0000",
            "\\uD800\\uD800", "\\uDBFF\\uDFFF", "\\u12", "\\x41", "\\ud800\\", "\\u", "\\uZZZZ",
        ];

        private static readonly string[] SurrogateTargets =
        [
            "event_id", "object_type", "metric", "timestamp", "data.identifiers.id", "data.identifiers.email",
            "data.identifiers.cio_id", "data.customer_id", "data.email_address", "data.recipient", "data.subject",
            "data.delivery_id", "data.href", "data.content", "<envelope-name>", "<data-name>", "<identifiers-name>",
        ];

        private Case LoneSurrogate(Random rng, long index)
        {
            var escape = Surrogates[rng.Next(Surrogates.Length)];
            var target = SurrogateTargets[rng.Next(SurrogateTargets.Length)];
            var json = target switch
            {
                // Escaped member names: "\ud800", and a lone surrogate next to an escaped real name.
                "<envelope-name>" => Envelope(index).Replace("\"metric\":", "\"m" + escape + "etric\":1,\"\\u006detric\":", StringComparison.Ordinal),
                "<data-name>" => Envelope(index).Replace("\"subject\":", "\"" + escape + "\":2,\"\\u0073ubject\":", StringComparison.Ordinal),
                "<identifiers-name>" => Envelope(index).Replace("\"id\":", "\"i" + escape + "\":3,\"\\u0069d\":", StringComparison.Ordinal),
                _ => Envelope(index, (target, "\"" + (rng.Next(2) == 0 ? escape : "p" + escape + "q") + "\"")),
            };
            return new Case(Category.LoneSurrogate, $"{target}={escape}", Post(Encoding.UTF8.GetBytes(json), rng));
        }

        private Case BadSignature(Random rng, long index)
        {
            var body = _webhooks.Body(index);
            var request = Post(body, rng, signed: false);
            var timestamp = WebhookSignature.Timestamp(DateTimeOffset.UtcNow);
            var good = WebhookSignature.Sign(_key, timestamp, body);
            var h = request.Headers;
            var variant = rng.Next(24);
            void Both(string ts, string sig)
            {
                h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, ts);
                h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, sig);
            }

            string Hex(int chars)
            {
                const string digits = "0123456789abcdef";
                var c = new char[chars];
                for (var i = 0; i < chars; i++)
                {
                    c[i] = digits[rng.Next(16)];
                }

                return new string(c);
            }

            string name;
            switch (variant)
            {
                case 0: name = "none"; break;
                case 1: h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp); name = "timestamp-only"; break;
                case 2: h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, good); name = "signature-only"; break;
                case 3: Both(timestamp, ""); name = "empty-signature"; break;
                case 4: Both("", good); name = "empty-timestamp"; break;
                case 5: Both(timestamp, Hex(64)); name = "random-hex"; break;
                case 6: Both(timestamp, WebhookSignature.Sign(_key, timestamp, [.. body, (byte)' '])); name = "other-body"; break;
                case 7: Both(timestamp, WebhookSignature.Sign("wrong-key"u8, timestamp, body)); name = "wrong-key"; break;
                case 8: Both((long.Parse(timestamp, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture), good); name = "other-timestamp"; break;
                case 9: Both(timestamp, good.ToUpperInvariant()); name = "uppercase-hex(valid)"; break;
                case 10: Both(timestamp, "sha256=" + good); name = "sha256-prefix"; break;
                case 11: Both(timestamp, good[..63]); name = "63-chars"; break;
                case 12: Both(timestamp, good + "0"); name = "65-chars"; break;
                case 13: Both(timestamp, Hex(10_000)); name = "10k-hex"; break;
                case 14: Both(timestamp, "zz" + good[2..]); name = "non-hex"; break;
                case 15: Both(timestamp, "\u00e9\u00ff" + good[2..]); name = "latin1-bytes"; break;
                case 16: Both("abc", WebhookSignature.Sign(_key, "abc", body)); name = "timestamp-abc(signed)"; break;
                case 17:
                {
                    var ts = new string('9', 8_000);
                    Both(ts, WebhookSignature.Sign(_key, ts, body));
                    name = "timestamp-8k-digits(signed)";
                    break;
                }

                case 18: Both("-1", WebhookSignature.Sign(_key, "-1", body)); name = "timestamp-negative(signed)"; break;
                case 19:
                    h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, timestamp);
                    h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, [good, Hex(64)]);
                    name = "two-signatures";
                    break;
                case 20:
                    h.TryAddWithoutValidation(WebhookSignature.TimestampHeader, [timestamp, "0"]);
                    h.TryAddWithoutValidation(WebhookSignature.SignatureHeader, good);
                    name = "two-timestamps";
                    break;
                case 21: Both(timestamp, "  " + good + "\t"); name = "padded(valid)"; break;
                case 22: Both("\u00e9", WebhookSignature.Sign(_key, "\u00e9", body)); name = "timestamp-latin1"; break;
                default: Both(timestamp, good[..32] + new string('0', 32)); name = "half-right"; break;
            }

            return new Case(Category.BadSignature, name, request);
        }

        private Case UnknownSource(Random rng, long index)
        {
            string[] ids =
            [
                "unknown", "FUZZ", "Fuzz", "fuzz_", "fuzz-", "demo", "_", "-", "0", new string('f', 100), new string('f', 101),
                "fuzz%20", "%20fuzz", "fuzz%00", "fuzz%2F", "%66uzz", "f%C3%BCzz", "%E2%98%83", "%FF%FE", "%C0%AF", "%ED%A0%80",
                "fuzz;x=1", "fuzz%3Bx", "con", "nul", "%2e", "%2e%2e", "fuzz.", "fuzz%0D%0Ax-injected:%201",
            ];
            var id = ids[rng.Next(ids.Length)];
            var name = id.Length > 20 ? $"len-{id.Length}" : id;
            return new Case(Category.UnknownSource, name, Post(_webhooks.Body(index), rng, path: "/webhooks/customerio/" + id));
        }

        private Case PathJunk(Random rng, long index)
        {
            var variant = rng.Next(16);
            string path;
            string name;
            switch (variant)
            {
                case 0: path = "/webhooks/customerio/" + new string('a', 4_000); name = "id-4k"; break;
                case 1: path = "/webhooks/customerio/" + new string('a', 9_000); name = "id-9k"; break;
                case 2: path = "/webhooks/customerio/" + string.Concat(Enumerable.Repeat("%41", 19_000)); name = "id-57k-encoded"; break;
                case 3: path = $"/webhooks/customerio/{Source}?" + new string('q', 9_000); name = "query-9k"; break;
                case 4: path = $"/webhooks/customerio/{Source}/extra"; name = "extra-segment"; break;
                case 5: path = $"/webhooks/customerio/{Source}/"; name = "trailing-slash"; break;
                case 6: path = $"/WEBHOOKS/CustomerIO/{Source}"; name = "route-case"; break;
                case 7: path = $"/webhooks//customerio//{Source}"; name = "double-slashes"; break;
                case 8: path = "/webhooks/customerio/"; name = "no-id"; break;
                case 9: path = "/webhooks/customerio/..%2F..%2Fhealth%2Flive"; name = "encoded-dot-dot"; break;
                case 10: path = $"/webhooks/customerio/{Source}?sourceId=demo&x=%00&%FF=%FE"; name = "query-junk"; break;
                case 11: path = $"/webhooks/customerio/{Source}%2F..%2Fdemo"; name = "encoded-slash"; break;
                case 12: path = "/" + new string('/', 2_000); name = "slashes-2k"; break;
                case 13: path = $"/webhooks/customerio/{Source}/%"; name = "bare-percent"; break;
                case 14: path = "/health/live"; name = "post-health"; break;
                default:
                {
                    var sb = new StringBuilder("/webhooks/customerio/");
                    var len = 1 + rng.Next(300);
                    for (var i = 0; i < len; i++)
                    {
                        sb.Append('%').Append(rng.Next(256).ToString("X2", CultureInfo.InvariantCulture));
                    }

                    path = sb.ToString();
                    name = "random-encoded";
                    break;
                }
            }

            return new Case(Category.PathJunk, name, Post(_webhooks.Body(index), rng, path: path));
        }

        private Case WrongMethod(Random rng, long index)
        {
            string[] methods = ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FUZZ", "post", "PROPFIND"];
            var method = methods[rng.Next(methods.Length)];
            var withBody = method is not ("GET" or "HEAD" or "TRACE") || rng.Next(2) == 0;
            var path = rng.Next(5) == 0 ? "/health/live" : $"/webhooks/customerio/{Source}";
            if (method == "TRACE")
            {
                withBody = false;
            }

            var request = withBody
                ? Post(_webhooks.Body(index), rng, path: path, method: new HttpMethod(method))
                : new HttpRequestMessage(new HttpMethod(method), Url(path));
            return new Case(Category.WrongMethod, method + (withBody ? "+signed-body" : "") + (path.StartsWith("/health", StringComparison.Ordinal) ? "-health" : ""), request);
        }

        private Case HeaderJunk(Random rng, long index)
        {
            var body = _webhooks.Body(index);
            var request = Post(body, rng);
            var h = request.Headers;
            var content = request.Content!.Headers;
            var variant = rng.Next(14);
            string name;
            switch (variant)
            {
                case 0:
                    content.Remove("Content-Type");
                    name = "no-content-type";
                    break;
                case 1:
                    content.Remove("Content-Type");
                    content.TryAddWithoutValidation("Content-Type", "text/plain; charset=utf-16");
                    name = "content-type-utf16";
                    break;
                case 2:
                    content.Remove("Content-Type");
                    content.TryAddWithoutValidation("Content-Type", "application/json; x=" + new string('x', 6_000));
                    name = "content-type-6k";
                    break;
                case 3:
                    content.Remove("Content-Type");
                    content.TryAddWithoutValidation("Content-Type", "\u00e9\u00ff/\u00fe");
                    name = "content-type-latin1";
                    break;
                case 4:
                    content.TryAddWithoutValidation("Content-Encoding", "gzip");
                    name = "claims-gzip";
                    break;
                case 5:
                    h.TryAddWithoutValidation("X-Junk", new string('j', 40_000));
                    name = "header-40k";
                    break;
                case 6:
                    for (var i = 0; i < 150; i++)
                    {
                        h.TryAddWithoutValidation("X-Junk-" + i.ToString(CultureInfo.InvariantCulture), "v");
                    }

                    name = "150-headers";
                    break;
                case 7:
                    h.TryAddWithoutValidation("traceparent", "00-" + new string('z', 32) + "-" + new string('z', 16) + "-zz");
                    name = "traceparent-55-garbage";
                    break;
                case 8:
                    h.TryAddWithoutValidation("traceparent", "ff-" + new string('0', 32) + "-" + new string('0', 16) + "-00");
                    name = "traceparent-55-zero-ids";
                    break;
                case 9:
                    h.TryAddWithoutValidation("traceparent", "\u00e9" + new string('0', 54));
                    name = "traceparent-55-latin1";
                    break;
                case 10:
                    h.TryAddWithoutValidation("tracestate", new string('t', 8_000));
                    h.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
                    name = "tracestate-8k";
                    break;
                case 11:
                    h.ExpectContinue = true;
                    name = "expect-100-continue";
                    break;
                case 12:
                    h.TryAddWithoutValidation("Host", "evil.example:1");
                    name = "foreign-host-header";
                    break;
                default:
                    h.TryAddWithoutValidation("X-Junk", "\u0080\u00ff\u0001\u007f");
                    name = "control-bytes";
                    break;
            }

            return new Case(Category.HeaderJunk, name, request);
        }

        // ---------------------------------------------------------------- envelope builder

        private static string Quote(string raw) => "\"" + raw + "\"";

        /// <summary>
        /// A reporting webhook as JSON text, with raw JSON values substituted at dotted paths
        /// (<c>event_id</c>, <c>data.subject</c>, <c>data.identifiers.id</c>, …). <c>&lt;omit&gt;</c> drops the member,
        /// <c>&lt;dup-null&gt;</c> / <c>&lt;dup-object&gt;</c> repeat it with another value after the original.
        /// </summary>
        private string Envelope(long index, params (string Path, string Raw)[] overrides)
        {
            var identifiers = new List<(string, string)> { ("id", Quote($"person-{index % 997}")), ("email", Quote($"person{index % 997}@example.com")), ("cio_id", Quote($"c{index % 997}")) };
            var data = new List<(string, string)>
            {
                ("action_id", "16"), ("campaign_id", "1"), ("delivery_id", Quote($"dlv-{index}")), ("journey_id", Quote("01G2NBFT8N2MYDTT3MHWK7Z6C6")),
                ("subject", Quote("Weekly digest")), ("recipient", Quote($"person{index % 997}@example.com")),
                ("href", Quote("https://example.com/x")), ("link_id", "3"), ("identifiers", "<identifiers>"),
            };
            var envelope = new List<(string, string)>
            {
                ("event_id", Quote($"{_webhooks.RunId}-x{index}")), ("object_type", Quote("email")), ("metric", Quote("clicked")),
                ("timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)), ("data", "<data>"),
            };

            foreach (var (path, raw) in overrides)
            {
                var parts = path.Split('.');
                var list = parts.Length switch { 1 => envelope, 2 => data, _ => identifiers };
                Apply(list, parts[^1], raw);
            }

            static void Apply(List<(string Name, string Raw)> list, string name, string raw)
            {
                var at = list.FindIndex(m => m.Name == name);
                switch (raw)
                {
                    case "<omit>":
                        if (at >= 0)
                        {
                            list.RemoveAt(at);
                        }

                        break;
                    case "<dup-null>":
                        list.Add((name, "null"));
                        break;
                    case "<dup-object>":
                        list.Add((name, "{\"dup\":[1,2,3]}"));
                        break;
                    default:
                        if (at >= 0)
                        {
                            list[at] = (name, raw);
                        }
                        else
                        {
                            list.Add((name, raw));
                        }

                        break;
                }
            }

            static string Render(List<(string Name, string Raw)> members, Func<string, string> expand) =>
                "{" + string.Join(',', members.Select(m => Quote(m.Name) + ":" + expand(m.Raw))) + "}";

            var identifiersJson = Render(identifiers, r => r);
            var dataJson = Render(data, r => r == "<identifiers>" ? identifiersJson : r);
            return Render(envelope, r => r == "<data>" ? dataJson : r);
        }
    }
}
