using System.Text;
using System.Text.Json;

namespace CioSegment.DevHost;

/// <summary>
/// A stand-in for Segment's <c>/v1/batch</c> on the DevHost's own port (development only): checks the
/// request as Segment would (Basic auth, JSON object with a <c>batch</c> array, 500 KB), prints a line
/// per batch and appends the batch to <c>{CaptureDirectory}/segment-batches.jsonl</c>.
/// </summary>
public sealed class LocalSegmentCapture(string directory, ILogger<LocalSegmentCapture> logger)
{
    public const string BasePath = "/dev/segment";
    public const int MaxBatchBytes = 500 * 1024;

    private readonly Lock _fileLock = new();

    public string FilePath { get; } = Path.GetFullPath(Path.Combine(directory, "segment-batches.jsonl"));

    public async Task HandleAsync(HttpContext context)
    {
        var auth = context.Request.Headers.Authorization.ToString();
        if (!auth.StartsWith("Basic ", StringComparison.Ordinal) || !TryWriteKey(auth["Basic ".Length..], out _))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsJsonAsync(new { success = false, error = "missing or malformed Basic auth (write key as user name)" });
            return;
        }

        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        if (buffer.Length > MaxBatchBytes)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsJsonAsync(new { success = false, error = $"batch larger than {MaxBatchBytes} bytes" });
            return;
        }

        int events;
        try
        {
            using var doc = JsonDocument.Parse(buffer.ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("batch", out var batch)
                || batch.ValueKind != JsonValueKind.Array)
            {
                throw new JsonException("the body must be an object with a \"batch\" array");
            }

            events = batch.GetArrayLength();
        }
        catch (JsonException e)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsJsonAsync(new { success = false, error = e.Message });
            return;
        }

        lock (_fileLock)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(FilePath))!);
            using var file = new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read);
            file.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
            file.Write("\n"u8);
        }

        logger.LogInformation("Local Segment capture: batch of {Events} event(s), {Bytes} bytes, appended to {File}", events, buffer.Length, FilePath);
        context.Response.StatusCode = StatusCodes.Status200OK;
        await context.Response.WriteAsJsonAsync(new { success = true });
    }

    private static bool TryWriteKey(string base64, out string writeKey)
    {
        writeKey = "";
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64.Trim()));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            writeKey = colon >= 0 ? text[..colon] : text;
            return writeKey.Length > 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
