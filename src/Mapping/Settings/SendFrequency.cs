namespace CioSegment.Mapping.Settings;

/// <summary>The seed's "Send Frequency" setting.</summary>
public enum SendFrequency
{
    /// <summary>Send every instance of every event.</summary>
    Every,

    /// <summary>Send only the first (delivery_id, metric); later ones are dropped by the transformer's dedup.</summary>
    First,
}
