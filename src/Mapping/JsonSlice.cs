using System.Text.Json;

namespace CioSegment.Mapping;

/// <summary>
/// Where one JSON value sits in the webhook body: its raw bytes (strings with their quotes) and JSON
/// type. Copying the raw bytes keeps every value exactly as it arrived: its type, digits and escapes.
/// </summary>
public readonly record struct JsonSlice(int Start, int Length, JsonTokenType Kind, bool Escaped)
{
    /// <summary>The member was in the body (possibly as <c>null</c>).</summary>
    public bool IsPresent => Length > 0;

    /// <summary>The member was in the body with a value other than <c>null</c>.</summary>
    public bool HasValue => Length > 0 && Kind != JsonTokenType.Null;

    /// <summary>A string with at least one character.</summary>
    public bool IsNonEmptyString => Kind == JsonTokenType.String && Length > 2;

    /// <summary>A non-empty string or a number: usable as an identifier.</summary>
    public bool IsIdentifier => IsNonEmptyString || Kind == JsonTokenType.Number;

    /// <summary>The value's JSON text as it arrived.</summary>
    public ReadOnlySpan<byte> Raw(ReadOnlySpan<byte> body) => body.Slice(Start, Length);

    /// <summary>A string's text between its quotes, still escaped when <see cref="Escaped"/>; other values' raw text.</summary>
    public ReadOnlySpan<byte> Content(ReadOnlySpan<byte> body) =>
        Kind == JsonTokenType.String ? body.Slice(Start + 1, Length - 2) : body.Slice(Start, Length);

    /// <summary>
    /// The unescaped text of a string (or a number's digits) into <paramref name="destination"/>, which
    /// must hold at least <see cref="Length"/> bytes. False when the text cannot be unescaped into UTF-8:
    /// JSON allows escapes of lone UTF-16 surrogates (<c>"\ud800"</c>) that have no UTF-8 form.
    /// </summary>
    public bool TryCopyText(ReadOnlySpan<byte> body, Span<byte> destination, out int written)
    {
        if (!Escaped)
        {
            var content = Content(body);
            content.CopyTo(destination);
            written = content.Length;
            return true;
        }

        // The raw slice is a complete JSON string token: let the reader unescape it.
        var reader = new Utf8JsonReader(Raw(body));
        reader.Read();
        try
        {
            written = reader.CopyString(destination);
            return true;
        }
        catch (InvalidOperationException)
        {
            written = 0;
            return false;
        }
    }
}
