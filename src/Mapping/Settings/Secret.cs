namespace CioSegment.Mapping.Settings;

/// <summary>
/// A secret (write key, webhook signing key). Its text is reachable only through <see cref="Reveal"/>,
/// so that logging, string interpolation or a debugger display never print it.
/// </summary>
public sealed class Secret
{
    private readonly string _value;

    public Secret(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        _value = value;
    }

    /// <summary>The secret text. Call only where the secret is used (HMAC, HTTP Basic auth).</summary>
    public string Reveal() => _value;

    public override string ToString() => "***";
}
