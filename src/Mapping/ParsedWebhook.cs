using System.Runtime.CompilerServices;

namespace CioSegment.Mapping;

/// <summary>
/// The result of one pass of <see cref="ReportingWebhookParser"/> over a webhook body: where each field
/// the mapping needs sits in that body. Holds no copy of the body; every accessor takes the same body.
/// </summary>
public struct ParsedWebhook
{
    private Slices _slices;

    public readonly JsonSlice this[WebhookField field] => _slices[(int)field];

    internal void Set(WebhookField field, JsonSlice slice) => _slices[(int)field] = slice;

    /// <summary>
    /// The person id: <c>data.identifiers.id</c>, else <c>data.customer_id</c> (non-empty strings or
    /// numbers). Absent (default) when neither is usable.
    /// </summary>
    public readonly JsonSlice PersonId =>
        this[WebhookField.IdentifierId].IsIdentifier ? this[WebhookField.IdentifierId]
        : this[WebhookField.CustomerId].IsIdentifier ? this[WebhookField.CustomerId]
        : default;

    /// <summary>
    /// The email: <c>data.identifiers.email</c>, else <c>data.email_address</c>, else <c>data.recipient</c>
    /// when <paramref name="isEmailChannel"/>. Absent (default) when none is a non-empty string.
    /// </summary>
    public readonly JsonSlice Email(bool isEmailChannel) =>
        this[WebhookField.IdentifierEmail].IsNonEmptyString ? this[WebhookField.IdentifierEmail]
        : this[WebhookField.EmailAddress].IsNonEmptyString ? this[WebhookField.EmailAddress]
        : isEmailChannel && this[WebhookField.Recipient].IsNonEmptyString ? this[WebhookField.Recipient]
        : default;

    /// <summary><c>data.identifiers.cio_id</c> when it is a non-empty string or a number.</summary>
    public readonly JsonSlice CioId =>
        this[WebhookField.IdentifierCioId].IsIdentifier ? this[WebhookField.IdentifierCioId] : default;

    [InlineArray(WebhookFields.Count)]
    private struct Slices
    {
        private JsonSlice _element;
    }
}
