namespace CioSegment.Mapping.Settings;

/// <summary>The source's "Send Frequency" setting (docs/mapping.md, "Retries and send frequency").</summary>
public enum SendFrequency
{
    /// <summary>Send every instance of every event.</summary>
    Every,

    /// <summary>Send only the first (delivery_id, metric); later ones are dropped by the transformer's dedup.</summary>
    First,
}
