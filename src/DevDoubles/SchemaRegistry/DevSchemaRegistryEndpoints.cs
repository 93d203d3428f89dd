using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static CioSegment.DevDoubles.SchemaRegistry.DevSchemaRegistryJson;

namespace CioSegment.DevDoubles.SchemaRegistry;

/// <summary>
/// Maps the development/test double of Confluent Schema Registry's REST API onto an ASP.NET Core app. FOR
/// DEVELOPMENT AND TESTS ONLY: no compatibility checks, no persistence, no authentication; production uses a
/// real Confluent Schema Registry.
/// </summary>
/// <remarks>
/// <para>
/// Implemented (relative to the prefix), enough for Confluent.SchemaRegistry 2.16's
/// <c>CachedSchemaRegistryClient</c> with <c>AvroSerializer</c> / <c>AvroDeserializer</c>:
/// </para>
/// <list type="bullet">
///   <item><description><c>POST /subjects/{subject}/versions</c>: register (<c>?normalize=</c> ignored).</description></item>
///   <item><description><c>POST /subjects/{subject}</c>: look a schema up in a subject (<c>?normalize=</c>, <c>?deleted=</c> ignored).</description></item>
///   <item><description><c>GET /schemas/ids/{id}</c> (<c>?subject=</c>, <c>?format=</c> ignored), <c>GET /schemas/ids/{id}/versions</c>, <c>GET /schemas/guids/{guid}</c>.</description></item>
///   <item><description><c>GET /subjects</c>, <c>GET /subjects/{subject}/versions</c>, <c>GET /subjects/{subject}/versions/{version|latest}</c>.</description></item>
///   <item><description>
///     <c>GET /associations/resources/{namespace}/{name}</c>: always an empty list (the double has no
///     associations), which makes the serdes' default subject name strategy fall back to <c>{topic}-value</c>.
///   </description></item>
/// </list>
/// <para>
/// Responses use <c>application/vnd.schemaregistry.v1+json</c>; errors use Confluent's body
/// <c>{"error_code":40403,"message":"Schema not found"}</c> (40401 subject, 40402 version, 40403 schema not found;
/// 42201 invalid schema; 42202 invalid version). Anything else (compatibility, config, mode, deletes, contexts,
/// creating associations, data-contract metadata and rules) answers 404 with error code 404, is logged as a warning and recorded in
/// <see cref="DevSchemaRegistry.UnhandledRequests"/>.
/// </para>
/// </remarks>
public static class DevSchemaRegistryEndpoints
{
    /// <summary>The default route prefix; <see cref="DevSchemaRegistryServer"/> uses it too.</summary>
    public const string DefaultPrefix = "/dev/schema-registry";

    /// <summary>
    /// Maps the registry double under <paramref name="prefix"/>, backed by the <see cref="DevSchemaRegistry"/>
    /// registered in the app's services, or by a new one private to these endpoints when none is registered.
    /// Point <c>SchemaRegistryConfig.Url</c> at <c>{app base URL}{prefix}</c>.
    /// </summary>
    /// <param name="endpoints">The app or route group to map onto.</param>
    /// <param name="prefix">The route prefix, <see cref="DefaultPrefix"/> unless given.</param>
    /// <returns><paramref name="endpoints"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapDevSchemaRegistry(this IEndpointRouteBuilder endpoints, string prefix = DefaultPrefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var registry = endpoints.ServiceProvider.GetService<DevSchemaRegistry>() ?? new DevSchemaRegistry();
        return endpoints.MapDevSchemaRegistry(registry, prefix);
    }

    /// <summary>
    /// Maps the registry double under <paramref name="prefix"/>, backed by <paramref name="registry"/>.
    /// Point <c>SchemaRegistryConfig.Url</c> at <c>{app base URL}{prefix}</c>.
    /// </summary>
    /// <param name="endpoints">The app or route group to map onto.</param>
    /// <param name="registry">The store the endpoints read and write.</param>
    /// <param name="prefix">The route prefix, <see cref="DefaultPrefix"/> unless given.</param>
    /// <returns><paramref name="endpoints"/>, for chaining.</returns>
    public static IEndpointRouteBuilder MapDevSchemaRegistry(
        this IEndpointRouteBuilder endpoints,
        DevSchemaRegistry registry,
        string prefix = DefaultPrefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(prefix);

        var logger = (endpoints.ServiceProvider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance)
            .CreateLogger(typeof(DevSchemaRegistry).FullName!);
        var group = endpoints.MapGroup(prefix);

        group.MapPost("/subjects/{subject}/versions", async (string subject, HttpRequest request) =>
        {
            var (body, error) = await ReadSchemaRequestAsync(request);
            if (error is not null)
            {
                return error;
            }

            try
            {
                var registered = registry.Register(subject, body!.Schema!, body.SchemaType, ToReferences(body.References));
                return Ok(ToResponse(registered));
            }
            catch (ArgumentException e)
            {
                return Error(StatusCodes.Status422UnprocessableEntity, 42201, $"Invalid schema: {e.Message}");
            }
        });

        group.MapPost("/subjects/{subject}", async (string subject, HttpRequest request) =>
        {
            var (body, error) = await ReadSchemaRequestAsync(request);
            if (error is not null)
            {
                return error;
            }

            if (registry.GetVersions(subject) is null)
            {
                return SubjectNotFound(subject);
            }

            try
            {
                var found = registry.Lookup(subject, body!.Schema!, body.SchemaType, ToReferences(body.References));
                return found is null ? SchemaNotFound() : Ok(ToResponse(found));
            }
            catch (ArgumentException e)
            {
                return Error(StatusCodes.Status422UnprocessableEntity, 42201, $"Invalid schema: {e.Message}");
            }
        });

        group.MapGet("/schemas/ids/{id:int}", (int id) =>
            registry.GetById(id) is { } schema ? Ok(ToResponse(schema, includeId: false)) : SchemaNotFound());

        group.MapGet("/schemas/ids/{id:int}/versions", (int id) =>
        {
            var registrations = registry.GetRegistrationsById(id);
            return registrations.Count == 0
                ? SchemaNotFound()
                : Ok(registrations.Select(r => new SubjectVersionResponse { Subject = r.Subject, Version = r.Version }).ToList());
        });

        group.MapGet("/schemas/guids/{guid:guid}", (Guid guid) =>
            registry.GetByGuid(guid) is { } schema ? Ok(ToResponse(schema, includeId: true)) : SchemaNotFound());

        group.MapGet("/subjects", () => Ok(registry.GetSubjects()));

        group.MapGet("/subjects/{subject}/versions", (string subject) =>
            registry.GetVersions(subject) is { } versions ? Ok(versions) : SubjectNotFound(subject));

        group.MapGet("/subjects/{subject}/versions/{version}", (string subject, string version) =>
        {
            int number;
            if (string.Equals(version, "latest", StringComparison.OrdinalIgnoreCase))
            {
                number = -1;
            }
            else if (!int.TryParse(version, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number) || number == 0 || number < -1)
            {
                return Error(StatusCodes.Status422UnprocessableEntity, 42202,
                    $"The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"");
            }

            if (registry.GetVersions(subject) is null)
            {
                return SubjectNotFound(subject);
            }

            return registry.GetVersion(subject, number) is { } registered
                ? Ok(ToResponse(registered))
                : Error(StatusCodes.Status404NotFound, 40402, $"Version {version} not found.");
        });

        // Confluent.SchemaRegistry.Serdes 2.16's default subject name strategy first asks which subject is
        // associated with the topic, and falls back to {topic}-value / {topic}-key when none is. The double has
        // no associations, so it gives the answer a real registry gives for a topic without any: an empty list.
        group.MapGet("/associations/resources/{resourceNamespace}/{resourceName}", () => Ok(Array.Empty<object>()));

        // Lowest route precedence: only requests no endpoint above takes (wrong path or method) get here.
        group.Map("/{**rest}", (HttpRequest request) =>
        {
            var description = $"{request.Method} {request.PathBase}{request.Path}{request.QueryString}";
            logger.LogWarning(
                "Dev schema registry ({Label}) has no endpoint for {Request}; answering 404",
                DevSchemaRegistry.Label,
                description);
            registry.RecordUnhandledRequest(description);
            return Error(StatusCodes.Status404NotFound, 404, $"HTTP 404 Not Found: the development schema registry does not implement {request.Method} {request.Path}");
        });

        return endpoints;
    }

    private static async Task<(SchemaRequest? Body, IResult? Error)> ReadSchemaRequestAsync(HttpRequest request)
    {
        SchemaRequest? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<SchemaRequest>(request.Body, Options, request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            return (null, Error(StatusCodes.Status400BadRequest, 400, $"Malformed request body: {e.Message}"));
        }

        if (string.IsNullOrWhiteSpace(body?.Schema))
        {
            return (null, Error(StatusCodes.Status422UnprocessableEntity, 42201, "Invalid schema: the request has no \"schema\"."));
        }

        return (body, null);
    }

    private static List<DevSchemaReference>? ToReferences(List<ReferenceJson>? references) =>
        references?.Select(r => new DevSchemaReference(r.Name ?? "", r.Subject ?? "", r.Version)).ToList();

    private static IResult Ok<T>(T body) => Results.Json(body, Options, ContentType);

    private static IResult SubjectNotFound(string subject) =>
        Error(StatusCodes.Status404NotFound, 40401, $"Subject '{subject}' not found.");

    private static IResult SchemaNotFound() => Error(StatusCodes.Status404NotFound, 40403, "Schema not found");

    private static IResult Error(int status, int errorCode, string message) =>
        Results.Json(new ErrorResponse { ErrorCode = errorCode, Message = message }, Options, ContentType, status);
}
