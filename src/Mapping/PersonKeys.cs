using System.Text;
using System.Text.Json;

namespace CioSegment.Mapping;

/// <summary>
/// The Kafka key of a webhook: the person it is about, so that one person's events stay in one
/// partition, in order, through the whole pipeline. It is the identity the track event will carry —
/// the person id (<c>identifiers.id</c>, else <c>customer_id</c>), else the email, else <c>cio_</c> + cio_id —
/// and, for a webhook naming nobody, its event_id. Without an event_id either (or for a body that is not a
/// webhook at all), the hashed messageId of the body (<c>cio-h-...</c>): never null, so every retry of the
/// same body lands in the same partition, where the transformer recognises it.
/// </summary>
public static class PersonKeys
{
    /// <summary>Longer keys are replaced by a digest: a key only routes, and Kafka counts it against the record size.</summary>
    public const int MaxKeyBytes = 256;

    /// <summary>The key of a body that is not a webhook (not one JSON object): its hashed messageId.</summary>
    public static byte[] OfBody(ReadOnlySpan<byte> body)
    {
        Span<byte> id = stackalloc byte[MessageIds.HashedLength];
        MessageIds.WriteHashed(body, id);
        return id.ToArray();
    }

    public static byte[] Of(ReadOnlySpan<byte> body, in ParsedWebhook webhook)
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
            return OfBody(body);
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
    public static string TextOf(ReadOnlySpan<byte> body, in ParsedWebhook webhook) => Encoding.UTF8.GetString(Of(body, webhook));
}
