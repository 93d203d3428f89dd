using System.Text.Json;
using System.Text.Unicode;

namespace CioSegment.Mapping;

/// <summary>
/// One forward pass of <see cref="Utf8JsonReader"/> over a reporting webhook body, recording where the
/// fields the mapping needs sit (<see cref="ParsedWebhook"/>). It allocates nothing for well-formed input
/// and validates the whole body: one UTF-8 JSON object, nothing after it. When a member repeats, the
/// last one wins, as in JavaScript's <c>JSON.parse</c>.
/// </summary>
public static class ReportingWebhookParser
{
    /// <summary>Deepest nesting accepted; deeper bodies are <c>invalid_json</c>.</summary>
    public const int MaxDepth = 64;

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        MaxDepth = MaxDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>Parses <paramref name="body"/>; on failure <paramref name="error"/> says why (never throws for bad input).</summary>
    public static bool TryParse(ReadOnlySpan<byte> body, out ParsedWebhook parsed, out MapError error)
    {
        parsed = default;
        error = default;

        // Utf8JsonReader does not check the bytes inside strings; values are copied raw, so check here.
        if (!Utf8.IsValid(body))
        {
            error = MapError.InvalidJson("The body is not valid UTF-8.");
            return false;
        }

        var reader = new Utf8JsonReader(body, ReaderOptions);
        try
        {
            if (!reader.Read())
            {
                error = MapError.InvalidJson("The body is empty.");
                return false;
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                error = MapError.InvalidJson($"The body is a JSON {Describe(reader.TokenType)}, not an object.");
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = EnvelopeField(ref reader);
                reader.Read();
                if (field == WebhookField.Data && reader.TokenType == JsonTokenType.StartObject)
                {
                    var start = (int)reader.TokenStartIndex;
                    ReadData(ref reader, ref parsed);
                    parsed.Set(WebhookField.Data, new JsonSlice(start, (int)reader.BytesConsumed - start, JsonTokenType.StartObject, false));
                }
                else if (field is { } f)
                {
                    Record(ref reader, ref parsed, f);
                }
                else
                {
                    reader.Skip();
                }
            }

            // Reads past the root object: throws if anything but whitespace follows it.
            reader.Read();
            return true;
        }
        catch (JsonException e)
        {
            parsed = default;
            error = MapError.InvalidJson(e.Message);
            return false;
        }
    }

    // Known member names are at most 26 bytes; escaped names longer than this are not ours.
    private const int NameScratchBytes = 64;

    private static void ReadData(ref Utf8JsonReader reader, ref ParsedWebhook parsed)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = DataField(ref reader, out var isIdentifiers);
            reader.Read();
            if (field is { } f)
            {
                Record(ref reader, ref parsed, f);
            }
            else if (isIdentifiers && reader.TokenType == JsonTokenType.StartObject)
            {
                ReadIdentifiers(ref reader, ref parsed);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    private static void ReadIdentifiers(ref Utf8JsonReader reader, ref ParsedWebhook parsed)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = IdentifierField(ref reader);
            reader.Read();
            if (field is { } f)
            {
                Record(ref reader, ref parsed, f);
            }
            else
            {
                reader.Skip();
            }
        }
    }

    private static void Record(ref Utf8JsonReader reader, ref ParsedWebhook parsed, WebhookField field)
    {
        var start = (int)reader.TokenStartIndex;
        var kind = reader.TokenType;
        switch (kind)
        {
            case JsonTokenType.String:
                parsed.Set(field, new JsonSlice(start, reader.ValueSpan.Length + 2, kind, reader.ValueIsEscaped));
                break;
            case JsonTokenType.StartObject or JsonTokenType.StartArray:
                reader.Skip();
                parsed.Set(field, new JsonSlice(start, (int)reader.BytesConsumed - start, kind, false));
                break;
            default:
                parsed.Set(field, new JsonSlice(start, reader.ValueSpan.Length, kind, false));
                break;
        }
    }

    // Member names are matched on their unescaped text; Customer.io never escapes them, so the
    // unescaping copy is the rare path. An escaped name longer than the scratch is not one we read.
    private static WebhookField? EnvelopeField(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return WebhookFields.Envelope(reader.ValueSpan);
        }

        Span<byte> scratch = stackalloc byte[NameScratchBytes];
        return TryUnescape(ref reader, scratch, out var n) ? WebhookFields.Envelope(scratch[..n]) : null;
    }

    private static WebhookField? DataField(ref Utf8JsonReader reader, out bool isIdentifiers)
    {
        if (!reader.ValueIsEscaped)
        {
            var field = WebhookFields.Data(reader.ValueSpan);
            isIdentifiers = field is null && WebhookFields.IsIdentifiers(reader.ValueSpan);
            return field;
        }

        Span<byte> scratch = stackalloc byte[NameScratchBytes];
        if (!TryUnescape(ref reader, scratch, out var n))
        {
            isIdentifiers = false;
            return null;
        }

        var name = scratch[..n];
        var escapedField = WebhookFields.Data(name);
        isIdentifiers = escapedField is null && WebhookFields.IsIdentifiers(name);
        return escapedField;
    }

    /// <summary>Unescapes a member name; false when it is too long to be ours or has no UTF-8 form (a lone surrogate escape).</summary>
    private static bool TryUnescape(ref Utf8JsonReader reader, scoped Span<byte> scratch, out int written)
    {
        written = 0;
        if (reader.ValueSpan.Length > scratch.Length)
        {
            return false;
        }

        try
        {
            written = reader.CopyString(scratch);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static WebhookField? IdentifierField(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return WebhookFields.Identifier(reader.ValueSpan);
        }

        Span<byte> scratch = stackalloc byte[NameScratchBytes];
        return TryUnescape(ref reader, scratch, out var n) ? WebhookFields.Identifier(scratch[..n]) : null;
    }

    internal static string Describe(JsonTokenType kind) => kind switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => kind.ToString(),
    };
}
