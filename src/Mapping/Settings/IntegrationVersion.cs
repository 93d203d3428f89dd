namespace CioSegment.Mapping.Settings;

/// <summary>The Segment Source integration version whose event shape is produced.</summary>
public enum IntegrationVersion
{
    /// <summary>Legacy 1.0.0: email events only, people without an id skipped, <c>email_id</c>, <c>email_subject</c>.</summary>
    V1 = 1,

    /// <summary>2.0.0 (May 2022): every channel, anonymous people by email.</summary>
    V2 = 2,
}
