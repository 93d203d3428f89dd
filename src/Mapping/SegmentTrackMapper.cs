using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CioSegment.Contracts;
using CioSegment.Mapping.Settings;

namespace CioSegment.Mapping;

/// <summary>
/// Turns one Customer.io reporting webhook into the Segment <c>track</c> event that Customer.io's own
/// Segment Source sends (docs/mapping.md). Values are copied as raw JSON, so ids keep the type they
/// arrived with. Bad input never throws: it yields <see cref="MapOutcome.Failed"/> with a reason.
/// <para>
/// An instance reuses its buffers and writer, so mapping allocates nothing but what the caller's output
/// buffer grows by. It is not thread-safe: use one instance per thread (per consumer loop).
/// </para>
/// </summary>
public sealed class SegmentTrackMapper
{
    /// <summary>Segment's per-event limit (32 KB). A larger event is a failure with reason <c>event_too_large</c>.</summary>
    public const int MaxEventBytes = 32 * 1024;

    private const int StackScratchBytes = 256;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Segment is not HTML: keep '<', '&', '+' and non-ASCII text as they are.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText TrackValue = JsonEncodedText.Encode("track");
    private static readonly JsonEncodedText EventName = JsonEncodedText.Encode("event");
    private static readonly JsonEncodedText UserIdName = JsonEncodedText.Encode("userId");
    private static readonly JsonEncodedText AnonymousIdName = JsonEncodedText.Encode("anonymousId");
    private static readonly JsonEncodedText MessageIdName = JsonEncodedText.Encode("messageId");
    private static readonly JsonEncodedText TimestampName = JsonEncodedText.Encode("timestamp");
    private static readonly JsonEncodedText OriginalTimestampName = JsonEncodedText.Encode("originalTimestamp");
    private static readonly JsonEncodedText ContextName = JsonEncodedText.Encode("context");
    private static readonly JsonEncodedText IntegrationsName = JsonEncodedText.Encode("integrations");
    private static readonly JsonEncodedText PropertiesName = JsonEncodedText.Encode("properties");
    private static readonly JsonEncodedText ContentName = JsonEncodedText.Encode("content");
    private static readonly JsonEncodedText LinkName = JsonEncodedText.Encode("link");
    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText UrlName = JsonEncodedText.Encode("url");
    private static readonly JsonEncodedText EmailIdName = JsonEncodedText.Encode("email_id");
    private static readonly JsonEncodedText EmailSubjectName = JsonEncodedText.Encode("email_subject");

    private static readonly JsonEncodedText[] CopiedNames = CreateCopiedNames();

    // The constant parts of "context" and "integrations", written as raw JSON.
    private static ReadOnlySpan<byte> ContextV2Head =>
        """{"integration":{"name":"customer.io","version":"2.0.0"},"library":{"name":"unknown","version":"unknown"}"""u8;

    private static ReadOnlySpan<byte> ContextV1Head =>
        """{"integration":{"name":"customer.io","version":"1.0.0"},"library":{"name":"unknown","version":"unknown"}"""u8;

    private static ReadOnlySpan<byte> TraitsEmailHead => ""","traits":{"email":"""u8;

    private static ReadOnlySpan<byte> SendBackOff => """{"Customer.io":false}"""u8;

    private static ReadOnlySpan<byte> SendBackOn => """{"Customer.io":true}"""u8;

    private readonly ArrayBufferWriter<byte> _json = new(4096);
    private readonly Utf8JsonWriter _writer;
    private readonly byte[] _eventName = new byte[EventNames.MaxNameBytes];
    private readonly byte[] _messageId = new byte[MessageIds.MaxLength + 2];
    private int _eventNameLength;
    private int _messageIdLength;

    public SegmentTrackMapper()
    {
        _writer = new Utf8JsonWriter(_json, WriterOptions);
    }

    /// <summary>The Segment event name of the last mapped event (UTF-8), until the next call.</summary>
    public ReadOnlySpan<byte> LastEventName => _eventName.AsSpan(0, _eventNameLength);

    /// <summary>The messageId of the last mapped event (UTF-8 JSON string text), until the next call.</summary>
    public ReadOnlySpan<byte> LastMessageId => _messageId.AsSpan(0, _messageIdLength);

    /// <summary>Parses and maps <paramref name="body"/>; on <see cref="MapOutcome.Mapped"/> the track JSON is appended to <paramref name="output"/>.</summary>
    public MapResult Map(ReadOnlySpan<byte> body, SourceSettings settings, DateTimeOffset receivedAt, IBufferWriter<byte> output)
    {
        if (!ReportingWebhookParser.TryParse(body, out var parsed, out var error))
        {
            return MapResult.Failed(error);
        }

        return Map(body, in parsed, settings, receivedAt, output);
    }

    /// <summary>Maps an already parsed webhook; <paramref name="body"/> must be the body it was parsed from.</summary>
    public MapResult Map(ReadOnlySpan<byte> body, in ParsedWebhook webhook, SourceSettings settings, DateTimeOffset receivedAt, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        _eventNameLength = 0;
        _messageIdLength = 0;

        // object_type and metric: required, non-empty strings of sane length.
        Span<byte> objectType = stackalloc byte[EventNames.MaxPartBytes];
        Span<byte> metric = stackalloc byte[EventNames.MaxPartBytes];
        if (!TryReadPart(body, webhook[WebhookField.ObjectType], "object_type", objectType, out var objectTypeLength, out var error)
            || !TryReadPart(body, webhook[WebhookField.Metric], "metric", metric, out var metricLength, out error))
        {
            return MapResult.Failed(error);
        }

        objectType = objectType[..objectTypeLength];
        metric = metric[..metricLength];

        var data = webhook[WebhookField.Data];
        if (!data.HasValue)
        {
            return MapResult.Failed(MapError.Missing("data"));
        }

        if (data.Kind != JsonTokenType.StartObject)
        {
            return MapResult.Failed(MapError.Invalid("data", $"must be an object, not a {ReportingWebhookParser.Describe(data.Kind)}."));
        }

        var nameLength = EventNames.Write(objectType, metric, _eventName);
        if (nameLength == 0)
        {
            return MapResult.Failed(objectTypeLength == 0 || !HasWord(objectType)
                ? MapError.Invalid("object_type", "has no word to name the event after.")
                : MapError.Invalid("metric", "has no word to name the event after."));
        }

        if (!settings.EnabledEvents.IsEnabled(objectType, metric))
        {
            return MapResult.Skipped(SkipReason.EventNotEnabled);
        }

        var isEmail = Ascii.EqualsIgnoreCase(objectType, "email"u8);
        var legacy = settings.Version == IntegrationVersion.V1;
        if (legacy && !isEmail)
        {
            return MapResult.Skipped(SkipReason.Version1NonEmail);
        }

        var personId = webhook.PersonId;
        var email = webhook.Email(isEmail);
        var cioId = webhook.CioId;
        if (!personId.IsPresent)
        {
            if (legacy)
            {
                return MapResult.Skipped(SkipReason.Version1NoPersonId);
            }

            if (!email.IsPresent && !cioId.IsPresent)
            {
                return MapResult.Failed(new MapError(
                    DeadLetterReasons.NoPersonIdentifier,
                    "None of data.identifiers.id, data.customer_id, data.identifiers.email, data.email_address"
                    + (isEmail ? ", data.recipient" : "") + " or data.identifiers.cio_id holds a value to address the event to."));
            }
        }

        var usedReceivedTime = !EventTime.TryRead(webhook[WebhookField.Timestamp], body, out var eventMillis);
        if (usedReceivedTime)
        {
            eventMillis = receivedAt.ToUnixTimeMilliseconds();
        }

        _eventNameLength = nameLength;
        _json.ResetWrittenCount();
        _writer.Reset(_json);
        WriteTrack(body, in webhook, settings, personId, email, cioId, eventMillis, isEmail, Ascii.EqualsIgnoreCase(objectType, "sms"u8), metric);
        _writer.Flush();

        var json = _json.WrittenSpan;
        if (json.Length > MaxEventBytes)
        {
            return MapResult.Failed(new MapError(
                DeadLetterReasons.EventTooLarge,
                $"The track event is {json.Length} bytes; Segment accepts at most {MaxEventBytes} bytes per event."));
        }

        json.CopyTo(output.GetSpan(json.Length));
        output.Advance(json.Length);
        return MapResult.Mapped(json.Length, usedReceivedTime);
    }

    private void WriteTrack(
        ReadOnlySpan<byte> body,
        in ParsedWebhook webhook,
        SourceSettings settings,
        JsonSlice personId,
        JsonSlice email,
        JsonSlice cioId,
        long eventMillis,
        bool isEmail,
        bool isSms,
        ReadOnlySpan<byte> metric)
    {
        var w = _writer;
        var legacy = settings.Version == IntegrationVersion.V1;
        w.WriteStartObject();
        w.WriteString(TypeName, TrackValue);
        w.WriteString(EventName, LastEventName);

        // Identity: userId is always present (empty without a person id), anonymousId only without one.
        w.WritePropertyName(UserIdName);
        if (personId.IsPresent)
        {
            WriteAsString(body, personId, default);
        }
        else
        {
            w.WriteStringValue(ReadOnlySpan<byte>.Empty);
            w.WritePropertyName(AnonymousIdName);
            if (email.IsPresent)
            {
                w.WriteRawValue(email.Raw(body), skipInputValidation: true);
            }
            else
            {
                WriteAsString(body, cioId, "cio_"u8);
            }
        }

        w.WritePropertyName(MessageIdName);
        WriteMessageId(body, webhook[WebhookField.EventId]);

        Span<byte> time = stackalloc byte[EventTime.MaxFormattedBytes];
        var timeLength = EventTime.Format(eventMillis, time);
        w.WriteString(TimestampName, time[..timeLength]);
        w.WriteString(OriginalTimestampName, time[..timeLength]);

        w.WritePropertyName(ContextName);
        WriteContext(body, email, legacy);

        w.WritePropertyName(IntegrationsName);
        w.WriteRawValue(settings.SendBackToCustomerIo ? SendBackOn : SendBackOff, skipInputValidation: true);

        w.WritePropertyName(PropertiesName);
        w.WriteStartObject();
        for (var i = 0; i < WebhookFields.CopiedCount; i++)
        {
            var field = (WebhookField)i;
            var slice = webhook[field];
            if (!slice.IsPresent)
            {
                continue;
            }

            w.WritePropertyName(legacy && field == WebhookField.Subject ? EmailSubjectName : CopiedNames[i]);
            w.WriteRawValue(slice.Raw(body), skipInputValidation: true);
            if (legacy && field == WebhookField.DeliveryId)
            {
                // Version 1's email_id duplicated delivery_id; version 2 dropped it.
                w.WritePropertyName(EmailIdName);
                w.WriteRawValue(slice.Raw(body), skipInputValidation: true);
            }
        }

        if (legacy)
        {
            for (var field = WebhookField.ActionName; field <= WebhookField.TransactionalMessageName; field++)
            {
                var slice = webhook[field];
                if (slice.IsPresent)
                {
                    w.WritePropertyName(WebhookFields.PropertyName(field));
                    w.WriteRawValue(slice.Raw(body), skipInputValidation: true);
                }
            }
        }

        // Body content: only on sent events with the setting on. Email and SMS always carry the key.
        var content = webhook[WebhookField.Content];
        var carriesBody = settings.BodyContent && content.HasValue && Ascii.EqualsIgnoreCase(metric, "sent"u8);
        if (carriesBody)
        {
            w.WritePropertyName(ContentName);
            w.WriteRawValue(content.Raw(body), skipInputValidation: true);
        }
        else if (isEmail || isSms)
        {
            w.WriteNull(ContentName);
        }

        if (Ascii.EqualsIgnoreCase(metric, "clicked"u8))
        {
            var linkId = webhook[WebhookField.LinkId];
            var href = webhook[WebhookField.Href];
            if (linkId.IsPresent || href.IsPresent)
            {
                w.WritePropertyName(LinkName);
                w.WriteStartObject();
                if (linkId.IsPresent)
                {
                    w.WritePropertyName(IdName);
                    w.WriteRawValue(linkId.Raw(body), skipInputValidation: true);
                }

                if (href.IsPresent)
                {
                    w.WritePropertyName(UrlName);
                    w.WriteRawValue(href.Raw(body), skipInputValidation: true);
                }

                w.WriteEndObject();
            }
        }

        // The seed mirrors identity inside properties.
        if (personId.IsPresent)
        {
            w.WritePropertyName(UserIdName);
            WriteAsString(body, personId, default);
        }
        else
        {
            w.WritePropertyName(AnonymousIdName);
            if (email.IsPresent)
            {
                w.WriteRawValue(email.Raw(body), skipInputValidation: true);
            }
            else
            {
                WriteAsString(body, cioId, "cio_"u8);
            }
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteContext(ReadOnlySpan<byte> body, JsonSlice email, bool legacy)
    {
        var head = legacy ? ContextV1Head : ContextV2Head;
        if (!email.IsPresent)
        {
            WriteRawJoined(head, "}"u8, default, default);
            return;
        }

        WriteRawJoined(head, TraitsEmailHead, email.Raw(body), "}}"u8);
    }

    /// <summary>Writes a string value: a string slice as it arrived, a number's digits quoted; with an optional prefix.</summary>
    private void WriteAsString(ReadOnlySpan<byte> body, JsonSlice value, ReadOnlySpan<byte> prefix)
    {
        if (prefix.IsEmpty && value.Kind == JsonTokenType.String)
        {
            _writer.WriteRawValue(value.Raw(body), skipInputValidation: true);
            return;
        }

        // The content of a JSON string (escapes included) or a number's digits is valid string content.
        WriteRawJoined("\""u8, prefix, value.Content(body), "\""u8);
    }

    private void WriteMessageId(ReadOnlySpan<byte> body, JsonSlice eventId)
    {
        Span<byte> id = _messageId;
        int length;
        if (eventId.IsIdentifier && eventId.Content(body).Length <= MessageIds.MaxVerbatimEventIdBytes)
        {
            var content = eventId.Content(body);
            "cio-"u8.CopyTo(id);
            content.CopyTo(id[4..]);
            length = 4 + content.Length;
        }
        else
        {
            // No usable event_id: hash the body. An overlong one: hash it, so Segment still dedups it.
            length = MessageIds.WriteHashed(eventId.IsIdentifier ? eventId.Content(body) : body, id);
        }

        _messageIdLength = length;
        WriteRawJoined("\""u8, id[..length], default, "\""u8);
    }

    /// <summary>Writes the concatenation of up to four parts as one raw JSON value.</summary>
    private void WriteRawJoined(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c, ReadOnlySpan<byte> d)
    {
        var total = a.Length + b.Length + c.Length + d.Length;
        byte[]? rented = null;
        var buffer = total <= StackScratchBytes
            ? stackalloc byte[StackScratchBytes]
            : (rented = ArrayPool<byte>.Shared.Rent(total));
        a.CopyTo(buffer);
        b.CopyTo(buffer[a.Length..]);
        c.CopyTo(buffer[(a.Length + b.Length)..]);
        d.CopyTo(buffer[(a.Length + b.Length + c.Length)..]);
        _writer.WriteRawValue(buffer[..total], skipInputValidation: true);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool TryReadPart(ReadOnlySpan<byte> body, JsonSlice slice, string name, Span<byte> destination, out int length, out MapError error)
    {
        length = 0;
        error = default;
        if (!slice.HasValue)
        {
            error = MapError.Missing(name);
            return false;
        }

        if (slice.Kind != JsonTokenType.String)
        {
            error = MapError.Invalid(name, $"must be a string, not a {ReportingWebhookParser.Describe(slice.Kind)}.");
            return false;
        }

        // The escaped form is never shorter than the text, so this bound also bounds the text.
        if (slice.Length - 2 > destination.Length)
        {
            error = MapError.Invalid(name, $"is longer than {EventNames.MaxPartBytes} bytes.");
            return false;
        }

        length = slice.CopyText(body, destination);
        if (length == 0)
        {
            error = MapError.Invalid(name, "is empty.");
            return false;
        }

        return true;
    }

    private static bool HasWord(ReadOnlySpan<byte> text)
    {
        foreach (var b in text)
        {
            if (b is not ((byte)'_' or (byte)' '))
            {
                return true;
            }
        }

        return false;
    }

    private static JsonEncodedText[] CreateCopiedNames()
    {
        var names = new JsonEncodedText[WebhookFields.CopiedCount];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = JsonEncodedText.Encode(WebhookFields.PropertyName((WebhookField)i));
        }

        return names;
    }

    /// <summary>Convenience for tools and tests: maps to a new string, or returns the outcome without one.</summary>
    public (MapResult Result, string? Json) MapToString(ReadOnlySpan<byte> body, SourceSettings settings, DateTimeOffset receivedAt)
    {
        var output = new ArrayBufferWriter<byte>();
        var result = Map(body, settings, receivedAt, output);
        return (result, result.Outcome == MapOutcome.Mapped ? Encoding.UTF8.GetString(output.WrittenSpan) : null);
    }
}
