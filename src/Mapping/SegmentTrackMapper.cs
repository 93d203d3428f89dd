using System.Buffers;
using System.Text;
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
    /// <summary>
    /// Segment's per-event limit (32 KB). An event over it is sent without its <c>properties.content</c>
    /// (<c>"content_omitted": "event_too_large"</c>); one still over it fails with reason <c>event_too_large</c>.
    /// </summary>
    public const int MaxEventBytes = 32 * 1024;

    // Constant parts of the event, written as raw UTF-8 JSON.
    private static ReadOnlySpan<byte> TypeAndEvent => "{\"type\":\"track\",\"event\":\""u8;

    private static ReadOnlySpan<byte> UserIdMember => "\",\"userId\":"u8;

    private static ReadOnlySpan<byte> AnonymousIdMember => ",\"anonymousId\":"u8;

    private static ReadOnlySpan<byte> MessageIdMember => ",\"messageId\":\""u8;

    private static ReadOnlySpan<byte> TimestampMember => "\",\"timestamp\":\""u8;

    private static ReadOnlySpan<byte> OriginalTimestampMember => "\",\"originalTimestamp\":\""u8;

    private static ReadOnlySpan<byte> ContextMember => "\",\"context\":"u8;

    private static ReadOnlySpan<byte> ContextV2Head =>
        """{"integration":{"name":"customer.io","version":"2.0.0"},"library":{"name":"unknown","version":"unknown"}"""u8;

    private static ReadOnlySpan<byte> ContextV1Head =>
        """{"integration":{"name":"customer.io","version":"1.0.0"},"library":{"name":"unknown","version":"unknown"}"""u8;

    private static ReadOnlySpan<byte> TraitsEmailMember => ""","traits":{"email":"""u8;

    private static ReadOnlySpan<byte> SendBackOff => ""","integrations":{"Customer.io":false},"properties":{"""u8;

    private static ReadOnlySpan<byte> SendBackOn => ""","integrations":{"Customer.io":true},"properties":{"""u8;

    private static ReadOnlySpan<byte> ContentOmittedValue => "null,\"content_omitted\":\"event_too_large\""u8;

    private readonly TrackJsonBuffer _json = new();

    // The unescaped text of a JSON-string data.content (subscription preferences), reused between events.
    private byte[] _unescaped = new byte[1024];
    private readonly byte[] _eventName = new byte[EventNames.MaxNameBytes];
    private readonly byte[] _messageId = new byte[MessageIds.MaxLength + 2];
    private int _eventNameLength;
    private int _messageIdLength;

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
        Span<byte> metricText = stackalloc byte[EventNames.MaxPartBytes];
        if (!TryReadPart(body, webhook[WebhookField.ObjectType], "object_type", objectType, out var objectTypeLength, out var error)
            || !TryReadPart(body, webhook[WebhookField.Metric], "metric", metricText, out var metricLength, out error))
        {
            return MapResult.Failed(error);
        }

        objectType = objectType[..objectTypeLength];

        // Customer.io's "cio_" prefix is not part of the metric's meaning (name, filters, rules below).
        var metric = EventNames.WithoutCioPrefix(metricText[..metricLength]);

        var data = webhook[WebhookField.Data];
        if (!data.HasValue)
        {
            return MapResult.Failed(MapError.Missing("data"));
        }

        if (data.Kind != JsonTokenType.StartObject)
        {
            return MapResult.Failed(MapError.Invalid("data", $"must be an object, not a {ReportingWebhookParser.Describe(data.Kind)}."));
        }

        var nameLength = EventNames.Write(objectType, metricText[..metricLength], _eventName);
        if (nameLength == 0)
        {
            return MapResult.Failed(objectTypeLength == 0 || !HasWord(objectType)
                ? MapError.Invalid("object_type", "has no word to name the event after.")
                : MapError.Invalid("metric", "has no word to name the event after."));
        }

        if (!settings.EnabledEvents.IsEnabled(objectType, metricText[..metricLength]))
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
        var kind = isEmail ? Channel.Email
            : Ascii.EqualsIgnoreCase(objectType, "sms"u8) ? Channel.Sms
            : Ascii.EqualsIgnoreCase(objectType, "customer"u8) && Ascii.EqualsIgnoreCase(metric, "subscription_preferences_changed"u8) ? Channel.Preferences
            : Channel.Other;
        _json.Clear();
        var wroteContent = WriteTrack(body, in webhook, settings, personId, email, cioId, eventMillis, kind, metric, omitContent: false);

        // Over Segment's limit: marketing emails are routinely larger than 32 KB, so the event goes without
        // its body rather than not at all. Only an event still over the limit is a dead letter.
        var contentOmitted = false;
        if (_json.Written.Length > MaxEventBytes && wroteContent)
        {
            var withContent = _json.Written.Length;
            _json.Clear();
            WriteTrack(body, in webhook, settings, personId, email, cioId, eventMillis, kind, metric, omitContent: true);
            contentOmitted = true;
            if (_json.Written.Length > MaxEventBytes)
            {
                return TooLarge($"The track event is {withContent} bytes, and {_json.Written.Length} without properties.content; Segment accepts at most {MaxEventBytes} bytes per event.");
            }
        }
        else if (_json.Written.Length > MaxEventBytes)
        {
            return TooLarge($"The track event is {_json.Written.Length} bytes; Segment accepts at most {MaxEventBytes} bytes per event.");
        }

        var json = _json.Written;
        json.CopyTo(output.GetSpan(json.Length));
        output.Advance(json.Length);
        return MapResult.Mapped(json.Length, usedReceivedTime, contentOmitted);
    }

    private static MapResult TooLarge(string detail) => MapResult.Failed(new MapError(DeadLetterReasons.EventTooLarge, detail));

    /// <summary>What decides the shape of <c>properties.content</c>.</summary>
    private enum Channel
    {
        Other,
        Email,
        Sms,

        /// <summary><c>customer</c> / <c>(cio_)subscription_preferences_changed</c>: data.content is the payload.</summary>
        Preferences,
    }

    /// <summary>Writes the whole event; returns whether it wrote a non-null <c>properties.content</c>.</summary>
    private bool WriteTrack(
        ReadOnlySpan<byte> body,
        in ParsedWebhook webhook,
        SourceSettings settings,
        JsonSlice personId,
        JsonSlice email,
        JsonSlice cioId,
        long eventMillis,
        Channel kind,
        ReadOnlySpan<byte> metric,
        bool omitContent)
    {
        // Every value is either a constant or a JSON value copied as it arrived (already validated by
        // the parser), so the event is assembled from raw bytes; only the event name needs escaping.
        var o = _json;
        var legacy = settings.Version == IntegrationVersion.V1;
        o.Append(TypeAndEvent);
        o.AppendEscaped(LastEventName);

        // Identity: userId is always present (empty without a person id), anonymousId only without one.
        o.Append(UserIdMember);
        if (personId.IsPresent)
        {
            AppendAsString(body, personId, default);
        }
        else
        {
            o.Append("\"\""u8);
            o.Append(AnonymousIdMember);
            AppendAnonymousId(body, email, cioId);
        }

        o.Append(MessageIdMember);
        _messageIdLength = MessageIds.Write(body, webhook[WebhookField.EventId], _messageId);
        o.Append(LastMessageId);

        Span<byte> time = stackalloc byte[EventTime.MaxFormattedBytes];
        time = time[..EventTime.Format(eventMillis, time)];
        o.Append(TimestampMember);
        o.Append(time);
        o.Append(OriginalTimestampMember);
        o.Append(time);

        o.Append(ContextMember);
        o.Append(legacy ? ContextV1Head : ContextV2Head);
        if (email.IsPresent)
        {
            o.Append(TraitsEmailMember);
            o.Append(email.Raw(body));
            o.Append((byte)'}');
        }

        o.Append((byte)'}');
        o.Append(settings.SendBackToCustomerIo ? SendBackOn : SendBackOff);

        var first = true;
        for (var i = 0; i < WebhookFields.CopiedCount; i++)
        {
            var field = (WebhookField)i;
            var slice = webhook[field];
            if (!slice.IsPresent)
            {
                continue;
            }

            Member(ref first, legacy && field == WebhookField.Subject ? "email_subject"u8 : WebhookFields.PropertyName(field));
            o.Append(slice.Raw(body));
            if (legacy && field == WebhookField.DeliveryId)
            {
                // Version 1's email_id duplicated delivery_id; version 2 dropped it.
                Member(ref first, "email_id"u8);
                o.Append(slice.Raw(body));
            }
        }

        if (legacy)
        {
            for (var field = WebhookField.ActionName; field <= WebhookField.TransactionalMessageName; field++)
            {
                var slice = webhook[field];
                if (slice.IsPresent)
                {
                    Member(ref first, WebhookFields.PropertyName(field));
                    o.Append(slice.Raw(body));
                }
            }
        }

        // Body content: only on sent events with the setting on. Email and SMS always carry the key.
        // Subscription preferences are the event's payload, not a message body: always sent.
        var content = webhook[WebhookField.Content];
        var wroteContent = false;
        if (kind == Channel.Preferences)
        {
            wroteContent = WritePreferences(body, content, ref first, omitContent);
        }
        else if (settings.BodyContent && content.HasValue && Ascii.EqualsIgnoreCase(metric, "sent"u8))
        {
            Member(ref first, "content"u8);
            o.Append(omitContent ? ContentOmittedValue : content.Raw(body));
            wroteContent = true;
        }
        else if (kind is Channel.Email or Channel.Sms)
        {
            Member(ref first, "content"u8);
            o.Append("null"u8);
        }

        if (Ascii.EqualsIgnoreCase(metric, "clicked"u8))
        {
            var linkId = webhook[WebhookField.LinkId];
            var href = webhook[WebhookField.Href];
            if (linkId.IsPresent || href.IsPresent)
            {
                Member(ref first, "link"u8);
                o.Append((byte)'{');
                if (linkId.IsPresent)
                {
                    o.Append("\"id\":"u8);
                    o.Append(linkId.Raw(body));
                }

                if (href.IsPresent)
                {
                    o.Append(linkId.IsPresent ? ",\"url\":"u8 : "\"url\":"u8);
                    o.Append(href.Raw(body));
                }

                o.Append((byte)'}');
            }
        }

        // Properties end with the top-level identity again (docs/mapping.md, "Identity").
        if (personId.IsPresent)
        {
            Member(ref first, "userId"u8);
            AppendAsString(body, personId, default);
        }
        else
        {
            Member(ref first, "anonymousId"u8);
            AppendAnonymousId(body, email, cioId);
        }

        o.Append("}}"u8);
        return wroteContent;
    }

    /// <summary>
    /// <c>properties.preferences</c>: data.content when it is a JSON object, or a JSON string whose text is
    /// one JSON object (as Customer.io sends it); any other value stays a string in <c>properties.content</c>.
    /// Returns whether it wrote a non-null <c>properties.content</c>.
    /// </summary>
    private bool WritePreferences(ReadOnlySpan<byte> body, JsonSlice content, ref bool first, bool omitContent)
    {
        if (!content.HasValue)
        {
            return false;
        }

        if (content.Kind == JsonTokenType.StartObject)
        {
            Member(ref first, "preferences"u8);
            _json.Append(content.Raw(body));
            return false;
        }

        if (content.Kind == JsonTokenType.String && TryUnescapeObject(body, content, out var start, out var length))
        {
            Member(ref first, "preferences"u8);
            _json.Append(_unescaped.AsSpan(start, length));
            return false;
        }

        Member(ref first, "content"u8);
        _json.Append(omitContent ? ContentOmittedValue : content.Raw(body));
        return true;
    }

    /// <summary>
    /// Unescapes a JSON string into <see cref="_unescaped"/>; true when its text is exactly one JSON object
    /// (whitespace around it allowed), which then sits at <paramref name="start"/>, <paramref name="length"/> bytes.
    /// </summary>
    private bool TryUnescapeObject(ReadOnlySpan<byte> body, JsonSlice text, out int start, out int length)
    {
        start = 0;
        length = 0;
        if (_unescaped.Length < text.Length)
        {
            _unescaped = new byte[Math.Max(text.Length, _unescaped.Length * 2)];
        }

        if (!text.TryCopyText(body, _unescaped, out var written))
        {
            return false;
        }

        var inner = new Utf8JsonReader(_unescaped.AsSpan(0, written), InnerReaderOptions);
        try
        {
            if (!inner.Read() || inner.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            start = (int)inner.TokenStartIndex;
            inner.Skip();
            length = (int)inner.BytesConsumed - start;

            // Anything but whitespace after the object throws here.
            return !inner.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static readonly JsonReaderOptions InnerReaderOptions = new()
    {
        MaxDepth = ReportingWebhookParser.MaxDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Writes <c>,"name":</c> (no comma before the first member of an object).</summary>
    private void Member(ref bool first, ReadOnlySpan<byte> name)
    {
        if (!first)
        {
            _json.Append((byte)',');
        }

        first = false;
        _json.Append((byte)'"');
        _json.Append(name);
        _json.Append("\":"u8);
    }

    private void AppendAnonymousId(ReadOnlySpan<byte> body, JsonSlice email, JsonSlice cioId)
    {
        if (email.IsPresent)
        {
            _json.Append(email.Raw(body));
        }
        else
        {
            AppendAsString(body, cioId, "cio_"u8);
        }
    }

    /// <summary>Writes a string value: a string slice as it arrived, a number's digits quoted; with an optional prefix.</summary>
    private void AppendAsString(ReadOnlySpan<byte> body, JsonSlice value, ReadOnlySpan<byte> prefix)
    {
        if (prefix.IsEmpty && value.Kind == JsonTokenType.String)
        {
            _json.Append(value.Raw(body));
            return;
        }

        // The content of a JSON string (escapes included) or a number's digits is valid string content.
        _json.Append((byte)'"');
        _json.Append(prefix);
        _json.Append(value.Content(body));
        _json.Append((byte)'"');
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

        if (!slice.TryCopyText(body, destination, out length))
        {
            error = MapError.Invalid(name, "contains an escaped lone UTF-16 surrogate, which is not text.");
            return false;
        }

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

    /// <summary>Convenience for tools and tests: maps to a new string, or returns the outcome without one.</summary>
    public (MapResult Result, string? Json) MapToString(ReadOnlySpan<byte> body, SourceSettings settings, DateTimeOffset receivedAt)
    {
        var output = new ArrayBufferWriter<byte>();
        var result = Map(body, settings, receivedAt, output);
        return (result, result.Outcome == MapOutcome.Mapped ? Encoding.UTF8.GetString(output.WrittenSpan) : null);
    }
}
