namespace CioSegment.Mapping.Settings;

/// <summary>
/// A secret (write key, webhook signing key). Its text is reachable only through <see cref="Reveal"/>,
/// so that logging, string interpolation or a debugger display never print it.
/// </summary>
public sealed class Secret
{
    private readonly string _value;
    private readonly byte[] _utf8;

    public Secret(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        _value = value;
        _utf8 = System.Text.Encoding.UTF8.GetBytes(value);
    }

    /// <summary>The secret text. Call only where the secret is used (HMAC, HTTP Basic auth).</summary>
    public string Reveal() => _value;

    /// <summary>The secret as UTF-8 bytes (an HMAC key), without a copy per use.</summary>
    public ReadOnlySpan<byte> RevealUtf8() => _utf8;

    public override string ToString() => "***";
}
