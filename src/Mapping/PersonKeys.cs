using System.Text;
using System.Text.Json;

namespace CioSegment.Mapping;

/// <summary>
/// The Kafka key of a webhook: the person it is about, so that one person's events stay in one
/// partition, in order, through the whole pipeline. It is the identity the track event will carry —
/// the person id (<c>identifiers.id</c>, else <c>customer_id</c>), else the email, else <c>cio_</c> + cio_id —
/// and, for a webhook naming nobody, its event_id. Null when there is none of them.
/// </summary>
public static class PersonKeys
{
    /// <summary>Longer keys are replaced by a digest: a key only routes, and Kafka counts it against the record size.</summary>
    public const int MaxKeyBytes = 256;

    public static byte[]? Of(ReadOnlySpan<byte> body, in ParsedWebhook webhook)
    {
        var objectType = webhook[WebhookField.ObjectType];
        var isEmail = objectType.Kind == JsonTokenType.String && Ascii.EqualsIgnoreCase(objectType.Content(body), "email"u8);

        ReadOnlySpan<byte> prefix = default;
        var slice = webhook.PersonId;
        if (!slice.IsPresent)
        {
            slice = webhook.Email(isEmail);
        }

        if (!slice.IsPresent && webhook.CioId.IsPresent)
        {
            slice = webhook.CioId;
            prefix = "cio_"u8;
        }

        if (!slice.IsPresent && webhook[WebhookField.EventId].IsIdentifier)
        {
            slice = webhook[WebhookField.EventId];
        }

        if (!slice.IsPresent)
        {
            return null;
        }

        // The text is never longer than its escaped form.
        var buffer = new byte[prefix.Length + slice.Length];
        prefix.CopyTo(buffer);
        if (!slice.TryCopyText(body, buffer.AsSpan(prefix.Length), out var written))
        {
            // Escapes with no UTF-8 form: the escaped text still names this person, and always the same way.
            var content = slice.Content(body);
            content.CopyTo(buffer.AsSpan(prefix.Length));
            written = content.Length;
        }

        var n = prefix.Length + written;
        if (n > MaxKeyBytes)
        {
            return Encoding.ASCII.GetBytes("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(buffer.AsSpan(0, n))));
        }

        return n == buffer.Length ? buffer : buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>The key as text (sink records carry it as a string).</summary>
    public static string? TextOf(ReadOnlySpan<byte> body, in ParsedWebhook webhook) =>
        Of(body, webhook) is { } key ? Encoding.UTF8.GetString(key) : null;
}
