using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.Processor.Cli;

/// <summary>
/// <c>map</c>: previews what Segment will receive for one webhook read from standard input.
/// Exit codes: 0 track JSON on stdout; 2 unmappable (<c>{"reason","detail"}</c> on stderr);
/// 3 skipped by the settings (nothing on stdout, the reason on stderr); 1 bad command line.
/// </summary>
public static class MapCommand
{
    public const int ExitMapped = 0;
    public const int ExitUsage = 1;
    public const int ExitUnmappable = 2;
    public const int ExitSkipped = 3;

    /// <summary>Largest body read from standard input, as the ingest's default limit.</summary>
    public const int MaxBodyBytes = 1024 * 1024;

    public static Command Create(Func<Stream> stdin, Stream stdout, TextWriter stderr)
    {
        var bodyContent = new Option<bool>("--body-content")
        {
            Description = "Include the message body (data.content) in sent events (the source's Body Content setting).",
        };
        var sendBack = new Option<bool>("--send-back")
        {
            Description = "Let Segment send the events back to Customer.io destinations (integrations: {\"Customer.io\": true}).",
        };
        var version = new Option<int>("--version")
        {
            Description = "Integration version: 2 (current) or 1 (legacy email-only shape).",
            DefaultValueFactory = _ => 2,
        };
        version.AcceptOnlyFromAmong("1", "2");
        var receivedAt = new Option<string?>("--received-at")
        {
            Description = "When the webhook was received (ISO-8601); used when its timestamp is missing or invalid. Default: now.",
        };
        receivedAt.Validators.Add(result =>
        {
            var text = result.GetValueOrDefault<string?>();
            if (text is not null && !TryParseInstant(text, out _))
            {
                result.AddError($"--received-at: '{text}' is not an ISO-8601 date and time such as 2021-06-16T13:05:39Z.");
            }
        });
        var enabledEvents = new Option<string[]>("--enabled-events")
        {
            Description = "Enabled events (object_type.metric, wildcards 'email.*', '*.clicked', '*'). Default: every event.",
            AllowMultipleArgumentsPerToken = true,
        };
        var pretty = new Option<bool>("--pretty")
        {
            Description = "Indent the JSON for reading.",
        };

        var command = new Command("map", "Map one Customer.io reporting webhook (JSON on standard input) to the Segment track event it becomes.")
        {
            bodyContent,
            sendBack,
            version,
            receivedAt,
            enabledEvents,
            pretty,
        };

        command.SetAction(parse =>
        {
            var errors = new List<string>();
            var events = parse.GetValue(enabledEvents);
            var enabled = EnabledEvents.Parse(events is { Length: > 0 } ? events : null, "--enabled-events", errors);
            if (enabled is null)
            {
                foreach (var e in errors)
                {
                    stderr.WriteLine(e);
                }

                return ExitUsage;
            }

            var settings = SourceSettings.ForMapping(
                bodyContent: parse.GetValue(bodyContent),
                sendBack: parse.GetValue(sendBack),
                version: parse.GetValue(version) == 1 ? IntegrationVersion.V1 : IntegrationVersion.V2,
                enabledEvents: enabled);
            var received = parse.GetValue(receivedAt) is { } text && TryParseInstant(text, out var instant)
                ? instant
                : DateTimeOffset.UtcNow;

            using var input = stdin();
            return Run(input, settings, received, parse.GetValue(pretty), stdout, stderr);
        });

        return command;
    }

    /// <summary>Maps the body read from <paramref name="input"/> and reports as the command does.</summary>
    public static int Run(Stream input, SourceSettings settings, DateTimeOffset receivedAt, bool pretty, Stream stdout, TextWriter stderr)
    {
        var body = ReadAll(input, out var tooLarge);
        if (tooLarge)
        {
            WriteError(stderr, new MapError("body_too_large", $"The body is larger than {MaxBodyBytes} bytes, the ingest's limit."));
            return ExitUnmappable;
        }

        var output = new ArrayBufferWriter<byte>();
        var result = new SegmentTrackMapper().Map(body.WrittenSpan, settings, receivedAt, output);
        switch (result.Outcome)
        {
            case MapOutcome.Mapped:
                if (pretty)
                {
                    using var document = JsonDocument.Parse(output.WrittenMemory);
                    using var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions
                    {
                        Indented = true,
                        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
                    });
                    document.WriteTo(writer);
                }
                else
                {
                    stdout.Write(output.WrittenSpan);
                }

                stdout.Write("\n"u8);
                stdout.Flush();
                return ExitMapped;

            case MapOutcome.Skipped:
                stderr.WriteLine($"{{\"skipped\":\"{result.SkipReason.Code()}\"}}");
                return ExitSkipped;

            default:
                WriteError(stderr, result.Error!.Value);
                return ExitUnmappable;
        }
    }

    private static void WriteError(TextWriter stderr, MapError error)
    {
        var json = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteString("reason", error.Reason);
            writer.WriteString("detail", error.Detail);
            writer.WriteEndObject();
        }

        stderr.WriteLine(System.Text.Encoding.UTF8.GetString(json.WrittenSpan));
    }

    private static ArrayBufferWriter<byte> ReadAll(Stream input, out bool tooLarge)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        tooLarge = false;
        while (true)
        {
            var span = buffer.GetSpan(16 * 1024);
            var n = input.Read(span);
            if (n == 0)
            {
                return buffer;
            }

            buffer.Advance(n);
            if (buffer.WrittenCount > MaxBodyBytes)
            {
                tooLarge = true;
                return buffer;
            }
        }
    }

    private static bool TryParseInstant(string text, out DateTimeOffset instant) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out instant);
}
