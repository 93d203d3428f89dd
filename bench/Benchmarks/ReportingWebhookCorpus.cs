using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CioSegment.Benchmarks;

/// <summary>
/// A deterministic, realistic mix of Customer.io reporting webhooks (UTF-8 JSON bodies), shaped after
/// Customer.io's event catalogue and the example webhooks in examples/webhooks: mostly email, then push, sms, in-app, webhook,
/// slack and customer events; ids as numbers in some payloads and strings in others; about one person
/// in ten without an id; clicked events with href and link_id; some sent events with a body.
/// </summary>
public static class ReportingWebhookCorpus
{
    private const string Crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Customer.io sends non-ASCII text as UTF-8, not as \u escapes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    // (object_type, metric, weight): email dominates, as in a typical workspace.
    private static readonly (string ObjectType, string Metric, double Weight)[] Catalogue =
    [
        ("email", "sent", 14), ("email", "delivered", 14), ("email", "opened", 12), ("email", "clicked", 6),
        ("email", "converted", 1.5), ("email", "bounced", 1.5), ("email", "dropped", 0.5), ("email", "deferred", 0.5),
        ("email", "spammed", 0.2), ("email", "failed", 0.5), ("email", "unsubscribed", 0.5), ("email", "attempted", 0.5),
        ("email", "undeliverable", 0.2),
        ("push", "sent", 4), ("push", "delivered", 3), ("push", "opened", 2), ("push", "clicked", 1),
        ("push", "failed", 0.5), ("push", "bounced", 0.3),
        ("sms", "sent", 3), ("sms", "delivered", 3), ("sms", "clicked", 1), ("sms", "failed", 0.5),
        ("sms", "undeliverable", 0.2),
        ("in_app", "sent", 2), ("in_app", "opened", 1.5), ("in_app", "clicked", 0.8),
        ("webhook", "sent", 2), ("webhook", "failed", 0.3), ("webhook", "clicked", 0.2),
        ("slack", "sent", 1), ("slack", "clicked", 0.2), ("slack", "failed", 0.1),
        ("customer", "subscribed", 1.5), ("customer", "unsubscribed", 1.5), ("customer", "subscription_preferences_changed", 0.3),
    ];

    private static readonly string[] Subjects =
    [
        "Test Subject",
        "Your order #48213 has shipped",
        "Welcome to Acme, let's get you set up",
        "Ihre Bestellung ist unterwegs ✓",
        "🎉 20% off everything this weekend only",
        "Reminder: your trial ends in 3 days",
        "\"Weekly digest\" — what you missed",
        "Réinitialisation de votre mot de passe",
        "Invoice INV-2024-0042 & receipt",
        "こんにちは！新しいお知らせがあります",
    ];

    private static readonly string[] FirstNames = ["peter", "samir", "joanna", "li", "maria", "ahmed", "olga", "kwame", "aiko", "lucas"];

    private static readonly string[] Domains = ["example.com", "customer.io", "mail.example.org", "acme-corp.co.uk", "gmail.com"];

    private static readonly string[] EmailFailures =
    [
        "550 5.1.1 The email account that you tried to reach does not exist.",
        "552 5.2.2 The recipient's mailbox is full and can't accept messages now.",
        "Recipient address was suppressed due to prior hard bounce",
        "421 4.7.0 Try again later, closing connection.",
    ];

    private static readonly string[] PushFailures = ["BadDeviceToken", "Unregistered", "The registration token is not a valid FCM registration token"];

    private static readonly string[] LinkPaths = ["/features", "/pricing", "/blog/2024/05/launch-week", "/account/settings", "/orders/48213/track", "/unsubscribe/preferences"];

    /// <summary>Generates <paramref name="count"/> webhook bodies from <paramref name="seed"/>; the same arguments always give the same bytes.</summary>
    public static byte[][] Generate(int count, int seed)
    {
        var random = new Random(seed);
        var people = new Person[Math.Max(16, count / 4)];
        for (var i = 0; i < people.Length; i++)
        {
            people[i] = Person.Create(random, i);
        }

        var totalWeight = 0.0;
        foreach (var entry in Catalogue)
        {
            totalWeight += entry.Weight;
        }

        var buffer = new ArrayBufferWriter<byte>(4096);
        using var w = new Utf8JsonWriter(buffer, WriterOptions);
        var bodies = new byte[count][];
        var time = 1_700_000_000L;
        for (var i = 0; i < count; i++)
        {
            var pick = random.NextDouble() * totalWeight;
            var (objectType, metric) = (Catalogue[^1].ObjectType, Catalogue[^1].Metric);
            foreach (var entry in Catalogue)
            {
                pick -= entry.Weight;
                if (pick < 0)
                {
                    (objectType, metric) = (entry.ObjectType, entry.Metric);
                    break;
                }
            }

            time += random.Next(0, 5);
            buffer.ResetWrittenCount();
            w.Reset(buffer);
            WriteWebhook(w, random, people[random.Next(people.Length)], objectType, metric, time);
            w.Flush();
            bodies[i] = buffer.WrittenSpan.ToArray();
        }

        return bodies;
    }

    private static void WriteWebhook(Utf8JsonWriter w, Random random, Person person, string objectType, string metric, long time)
    {
        // Customer.io's payloads list members alphabetically: data, event_id, metric, object_type, timestamp.
        w.WriteStartObject();
        w.WritePropertyName("data");
        w.WriteStartObject();
        if (objectType == "customer")
        {
            WriteCustomerData(w, random, person, metric);
        }
        else
        {
            WriteMessageData(w, random, person, objectType, metric);
        }

        w.WriteEndObject();
        w.WriteString("event_id", Ulid(random, time));
        w.WriteString("metric", metric);
        w.WriteString("object_type", objectType);
        if (random.NextDouble() < 0.03)
        {
            w.WriteString("timestamp", time.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            w.WriteNumber("timestamp", time);
        }

        w.WriteEndObject();
    }

    private static void WriteCustomerData(Utf8JsonWriter w, Random random, Person person, string metric)
    {
        WriteNullableString(w, "customer_id", person.Id);
        w.WriteString("email_address", person.Email);
        WriteIdentifiers(w, person);
        if (metric == "subscription_preferences_changed")
        {
            w.WriteString("content", $"{{\"topics\":{{\"topic_1\":{(random.Next(2) == 0 ? "true" : "false")},\"topic_2\":true,\"topic_3\":false}}}}");
        }
    }

    private static void WriteMessageData(Utf8JsonWriter w, Random random, Person person, string objectType, string metric)
    {
        var isEmail = objectType == "email";
        var origin = random.NextDouble();
        var failed = metric is "failed" or "bounced" or "dropped" or "deferred" or "undeliverable" or "attempted";

        // Exactly one origin: campaign, API-triggered broadcast, newsletter or transactional message.
        if (origin < 0.65)
        {
            WriteId(w, random, "action_id", random.Next(1, 400));
            w.WriteNumber("campaign_id", random.Next(1, 120));
        }
        else if (origin < 0.77)
        {
            WriteId(w, random, "action_id", random.Next(1, 400));
            w.WriteNumber("broadcast_id", random.Next(1, 60));
        }
        else if (origin < 0.9)
        {
            w.WriteNumber("content_id", random.Next(1, 900));
            w.WriteNumber("newsletter_id", random.Next(1, 300));
        }

        if (isEmail && random.NextDouble() < 0.4)
        {
            // The deprecated customer_id still arrives on many email payloads.
            WriteNullableString(w, "customer_id", person.Id);
        }

        w.WriteString("delivery_id", DeliveryId(random));
        if (isEmail && failed)
        {
            w.WriteString("failure_message", EmailFailures[random.Next(EmailFailures.Length)]);
        }
        else if (objectType is "sms" or "webhook" or "slack" && failed)
        {
            w.WriteString("failure_message", objectType == "webhook" ? "Received HTTP 503 Service Unavailable from the endpoint" : "Message delivery failed: unreachable destination");
        }

        if (metric == "clicked")
        {
            w.WriteString("href", $"https://www.{Domains[random.Next(Domains.Length)]}{LinkPaths[random.Next(LinkPaths.Length)]}?utm_source=customerio&utm_medium={objectType}&utm_campaign=c{random.Next(1, 120)}");
        }

        WriteIdentifiers(w, person);
        if (origin < 0.77)
        {
            w.WriteString("journey_id", Ulid(random, 1_650_000_000 + random.Next(0, 50_000_000)));
        }

        if (metric == "clicked")
        {
            WriteId(w, random, "link_id", random.Next(1, 40));
        }

        if (origin < 0.65 && random.NextDouble() < 0.15)
        {
            w.WriteNumber("parent_action_id", random.Next(1, 400));
        }

        if (origin is >= 0.65 and < 0.77)
        {
            // Broadcasts are API-triggered.
            w.WriteNumber("trigger_id", random.Next(1, 5000));
        }

        switch (objectType)
        {
            case "email":
                if (random.NextDouble() < 0.05)
                {
                    w.WriteString("email_address", person.Email);
                }
                else
                {
                    w.WriteString("recipient", person.Email);
                }

                w.WriteString("subject", Subjects[random.Next(Subjects.Length)]);
                if (metric == "sent" && random.NextDouble() < 0.35)
                {
                    w.WriteString("content", EmailBody(random, person));
                }

                break;
            case "sms":
                w.WriteString("recipient", person.Phone);
                if (metric == "sent" && random.NextDouble() < 0.35)
                {
                    w.WriteString("content", $"Hi {person.FirstName}, your code is {random.Next(100000, 999999)}. It expires in 10 minutes. Reply STOP to opt out.");
                }

                break;
            case "push":
                w.WritePropertyName("recipients");
                w.WriteStartArray();
                var devices = random.NextDouble() < 0.8 ? 1 : random.Next(2, 4);
                for (var d = 0; d < devices; d++)
                {
                    w.WriteStartObject();
                    w.WriteString("device_id", Hex(random, 64));
                    w.WriteString("device_platform", random.Next(3) == 0 ? "android" : "ios");
                    if (failed)
                    {
                        w.WriteString("failure_message", PushFailures[random.Next(PushFailures.Length)]);
                    }

                    w.WriteEndObject();
                }

                w.WriteEndArray();
                break;
            case "slack":
                w.WriteString("recipient", random.Next(2) == 0 ? "#cool-channel" : "#sales-alerts");
                break;
            case "webhook":
                w.WriteString("recipient", $"https://hooks.example.com/services/T0{Hex(random, 8)}/B0{Hex(random, 8)}");
                break;
            case "in_app":
                if (metric == "clicked")
                {
                    // Extra members the mapping does not copy: the parser has to skip them.
                    w.WriteString("action_name", "primary_button");
                    w.WriteString("action_value", "https://www.example.com/offer");
                }

                break;
        }

        if (origin >= 0.9)
        {
            // Transactional messages carry only their own id (number or, in newer payloads, a string).
            if (random.Next(2) == 0)
            {
                w.WriteNumber("transactional_message_id", random.Next(1, 80));
            }
            else
            {
                w.WriteString("transactional_message_id", "order_confirmation");
            }
        }
    }

    private static void WriteIdentifiers(Utf8JsonWriter w, Person person)
    {
        w.WritePropertyName("identifiers");
        w.WriteStartObject();
        w.WriteString("cio_id", person.CioId);
        w.WriteString("email", person.Email);
        if (person.NumericId is { } numeric)
        {
            w.WriteNumber("id", numeric);
        }
        else
        {
            WriteNullableString(w, "id", person.Id);
        }

        w.WriteEndObject();
    }

    private static void WriteNullableString(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    /// <summary>Ids arrive as numbers (16) in older payloads and strings ("n18") in newer ones.</summary>
    private static void WriteId(Utf8JsonWriter w, Random random, string name, int value)
    {
        if (random.NextDouble() < 0.3)
        {
            w.WriteString(name, $"n{value}");
        }
        else
        {
            w.WriteNumber(name, value);
        }
    }

    private static string EmailBody(Random random, Person person)
    {
        var code = random.Next(1000, 9999);
        return "Content-Type: text/html; charset=UTF-8\r\nMIME-Version: 1.0\r\n\r\n"
            + "<html><body style=\"font-family: sans-serif\"><p>Hi " + person.FirstName + ",</p>"
            + "<p>Thanks for your order. Your confirmation code is <b>" + code + "</b>.</p>"
            + "<p><a href=\"https://www.example.com/orders/" + code + "?utm_source=customerio\">Track your order</a></p>"
            + "<p style=\"color:#888\">You received this email because you signed up at example.com.</p></body></html>";
    }

    private static string DeliveryId(Random random)
    {
        // URL-safe base64 of 22 or 26 bytes, like "dgP6xQb6xQYDAAF6FOl-vmR0E7zoPqTRiAo=".
        Span<byte> bytes = stackalloc byte[26];
        bytes = bytes[..(random.Next(2) == 0 ? 22 : 26)];
        random.NextBytes(bytes);
        return Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
    }

    private static string Ulid(Random random, long unixSeconds)
    {
        Span<char> text = stackalloc char[26];
        var millis = unixSeconds * 1000;
        for (var i = 9; i >= 0; i--)
        {
            text[i] = Crockford[(int)(millis & 31)];
            millis >>= 5;
        }

        for (var i = 10; i < 26; i++)
        {
            text[i] = Crockford[random.Next(32)];
        }

        return new string(text);
    }

    private static string Hex(Random random, int length)
    {
        Span<char> text = stackalloc char[length];
        for (var i = 0; i < length; i++)
        {
            text[i] = "0123456789abcdef"[random.Next(16)];
        }

        return new string(text);
    }

    private sealed record Person(string? Id, long? NumericId, string Email, string CioId, string FirstName, string Phone)
    {
        public static Person Create(Random random, int index)
        {
            var first = FirstNames[random.Next(FirstNames.Length)];
            var email = $"{first}.{index}@{Domains[random.Next(Domains.Length)]}";
            var cioId = Hex(random, 12);
            var phone = $"+1555{random.Next(1_000_000, 9_999_999)}";
            var kind = random.NextDouble();
            return kind switch
            {
                // About one person in ten has no id: identified by email only.
                < 0.1 => new Person(null, null, email, cioId, first, phone),
                < 0.2 => new Person(null, random.Next(10_000, 9_999_999), email, cioId, first, phone),
                < 0.6 => new Person($"{first}-{index}", null, email, cioId, first, phone),
                _ => new Person(Hex(random, 13), null, email, cioId, first, phone),
            };
        }

        // A numeric identifiers.id is a string in every other field that carries the id.
        public string? Id { get; } = Id ?? NumericId?.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
