using CioSegment.Contracts;

namespace CioSegment.Mapping;

/// <summary>Why a webhook cannot become a track event: a <see cref="DeadLetterReasons"/> code and a detail for people.</summary>
public readonly record struct MapError(string Reason, string Detail)
{
    internal static MapError InvalidJson(string detail) => new(DeadLetterReasons.InvalidJson, detail);

    internal static MapError Missing(string field) =>
        new(DeadLetterReasons.MissingFieldPrefix + field, $"'{field}' is required and was absent or null.");

    internal static MapError Invalid(string field, string detail) =>
        new(DeadLetterReasons.InvalidFieldPrefix + field, $"'{field}' {detail}");
}
