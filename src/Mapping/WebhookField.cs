namespace CioSegment.Mapping;

/// <summary>
/// The reporting-webhook fields the mapping reads. The first block is the list of <c>data</c> fields
/// copied into <c>properties</c>, in the order they are written (docs/mapping.md, "Properties").
/// </summary>
public enum WebhookField
{
    // data fields copied into properties, in output order
    ActionId,
    CampaignId,
    BroadcastId,
    NewsletterId,
    ContentId,
    TriggerId,
    TransactionalMessageId,
    ParentActionId,
    DeliveryId,
    JourneyId,
    Subject,
    Recipient,
    Recipients,
    FailureMessage,

    // other data fields
    Content,
    Href,
    LinkId,
    CustomerId,
    EmailAddress,

    // names that only the legacy version 1 shape sends
    ActionName,
    CampaignName,
    NewsletterName,
    TransactionalMessageName,

    // data.identifiers
    IdentifierId,
    IdentifierEmail,
    IdentifierCioId,

    // the envelope
    EventId,
    ObjectType,
    Metric,
    Timestamp,
    Data,
}

internal static class WebhookFields
{
    public const int Count = (int)WebhookField.Data + 1;

    /// <summary>Number of leading fields that are copied into properties.</summary>
    public const int CopiedCount = (int)WebhookField.FailureMessage + 1;

    /// <summary>Maps a <c>data</c> member name to its field; null for members the mapping ignores.</summary>
    public static WebhookField? Data(ReadOnlySpan<byte> name) => name.Length switch
    {
        4 when name.SequenceEqual("href"u8) => WebhookField.Href,
        7 when name.SequenceEqual("subject"u8) => WebhookField.Subject,
        7 when name.SequenceEqual("content"u8) => WebhookField.Content,
        7 when name.SequenceEqual("link_id"u8) => WebhookField.LinkId,
        9 when name.SequenceEqual("action_id"u8) => WebhookField.ActionId,
        9 when name.SequenceEqual("recipient"u8) => WebhookField.Recipient,
        10 when name.SequenceEqual("content_id"u8) => WebhookField.ContentId,
        10 when name.SequenceEqual("trigger_id"u8) => WebhookField.TriggerId,
        10 when name.SequenceEqual("journey_id"u8) => WebhookField.JourneyId,
        10 when name.SequenceEqual("recipients"u8) => WebhookField.Recipients,
        11 when name.SequenceEqual("campaign_id"u8) => WebhookField.CampaignId,
        11 when name.SequenceEqual("delivery_id"u8) => WebhookField.DeliveryId,
        11 when name.SequenceEqual("customer_id"u8) => WebhookField.CustomerId,
        11 when name.SequenceEqual("action_name"u8) => WebhookField.ActionName,
        12 when name.SequenceEqual("broadcast_id"u8) => WebhookField.BroadcastId,
        13 when name.SequenceEqual("newsletter_id"u8) => WebhookField.NewsletterId,
        13 when name.SequenceEqual("email_address"u8) => WebhookField.EmailAddress,
        13 when name.SequenceEqual("campaign_name"u8) => WebhookField.CampaignName,
        15 when name.SequenceEqual("failure_message"u8) => WebhookField.FailureMessage,
        15 when name.SequenceEqual("newsletter_name"u8) => WebhookField.NewsletterName,
        16 when name.SequenceEqual("parent_action_id"u8) => WebhookField.ParentActionId,
        24 when name.SequenceEqual("transactional_message_id"u8) => WebhookField.TransactionalMessageId,
        26 when name.SequenceEqual("transactional_message_name"u8) => WebhookField.TransactionalMessageName,
        _ => null,
    };

    public static bool IsIdentifiers(ReadOnlySpan<byte> name) => name.SequenceEqual("identifiers"u8);

    public static WebhookField? Identifier(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when name.SequenceEqual("id"u8) => WebhookField.IdentifierId,
        5 when name.SequenceEqual("email"u8) => WebhookField.IdentifierEmail,
        6 when name.SequenceEqual("cio_id"u8) => WebhookField.IdentifierCioId,
        _ => null,
    };

    public static WebhookField? Envelope(ReadOnlySpan<byte> name) => name.Length switch
    {
        4 when name.SequenceEqual("data"u8) => WebhookField.Data,
        6 when name.SequenceEqual("metric"u8) => WebhookField.Metric,
        8 when name.SequenceEqual("event_id"u8) => WebhookField.EventId,
        9 when name.SequenceEqual("timestamp"u8) => WebhookField.Timestamp,
        11 when name.SequenceEqual("object_type"u8) => WebhookField.ObjectType,
        _ => null,
    };

    /// <summary>The JSON member name written into properties for a copied field.</summary>
    public static ReadOnlySpan<byte> PropertyName(WebhookField field) => field switch
    {
        WebhookField.ActionId => "action_id"u8,
        WebhookField.CampaignId => "campaign_id"u8,
        WebhookField.BroadcastId => "broadcast_id"u8,
        WebhookField.NewsletterId => "newsletter_id"u8,
        WebhookField.ContentId => "content_id"u8,
        WebhookField.TriggerId => "trigger_id"u8,
        WebhookField.TransactionalMessageId => "transactional_message_id"u8,
        WebhookField.ParentActionId => "parent_action_id"u8,
        WebhookField.DeliveryId => "delivery_id"u8,
        WebhookField.JourneyId => "journey_id"u8,
        WebhookField.Subject => "subject"u8,
        WebhookField.Recipient => "recipient"u8,
        WebhookField.Recipients => "recipients"u8,
        WebhookField.FailureMessage => "failure_message"u8,
        WebhookField.ActionName => "action_name"u8,
        WebhookField.CampaignName => "campaign_name"u8,
        WebhookField.NewsletterName => "newsletter_name"u8,
        WebhookField.TransactionalMessageName => "transactional_message_name"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "not a copied field"),
    };
}
