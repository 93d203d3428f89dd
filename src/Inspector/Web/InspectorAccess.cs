using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;

namespace CioSegment.Inspector.Web;

/// <summary>
/// Who may see the inspector. It shows personal data, so outside loopback it needs OpenID Connect (cookie
/// sign-in through ASP.NET Core's handler) or a bearer token; without either it refuses to start on any
/// address that is not loopback. <see cref="InspectorOptions.AllowAnonymousOnLoopback"/> (the DevHost) serves
/// it without sign-in, and only on loopback.
/// </summary>
public static class InspectorAccess
{
    public const string Policy = "cio-inspector";
    public const string BearerScheme = "CioInspectorBearer";
    public const string SelectScheme = "CioInspector";
    public const string TokenCookie = "cio-inspector-token";

    /// <summary>The user named in audit lines.</summary>
    public static string UserOf(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true } identity
            ? identity.Name ?? context.User.FindFirst("email")?.Value ?? context.User.FindFirst("sub")?.Value ?? "authenticated user"
            : "anonymous (loopback)";

    /// <summary>Throws, naming the settings, when the inspector would serve personal data to a network without sign-in.</summary>
    public static void EnsureProtected(InspectorOptions options, IConfiguration configuration)
    {
        if (options.BearerConfigured && options.BearerToken!.Length < 32)
        {
            throw new InvalidOperationException($"{InspectorOptions.SectionName}:BearerToken must be at least 32 characters.");
        }

        if (options.OidcConfigured || options.BearerConfigured)
        {
            return;
        }

        var exposed = ListenAddresses(configuration).Where(a => !IsLoopback(a)).ToList();
        if (!options.AllowAnonymousOnLoopback || exposed.Count > 0)
        {
            throw new InvalidOperationException(
                $"The event inspector shows personal data and would listen on {string.Join(", ", exposed.DefaultIfEmpty("an address"))} without sign-in: " +
                $"configure OpenID Connect ({InspectorOptions.SectionName}:Oidc:Authority, :ClientId, :ClientSecret) or a bearer token ({InspectorOptions.SectionName}:BearerToken), " +
                $"or listen on 127.0.0.1 only with {InspectorOptions.SectionName}:AllowAnonymousOnLoopback=true.");
        }
    }

    /// <summary>The addresses Kestrel will listen on, from the same settings it reads (urls, http_ports, https_ports, Kestrel:Endpoints).</summary>
    public static IReadOnlyList<string> ListenAddresses(IConfiguration configuration)
    {
        var addresses = new List<string>();
        foreach (var key in new[] { "urls", "URLS", "ASPNETCORE_URLS" })
        {
            addresses.AddRange((configuration[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        foreach (var (key, scheme) in new[] { ("http_ports", "http"), ("https_ports", "https"), ("HTTP_PORTS", "http"), ("HTTPS_PORTS", "https"), ("ASPNETCORE_HTTP_PORTS", "http"), ("ASPNETCORE_HTTPS_PORTS", "https") })
        {
            addresses.AddRange((configuration[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => $"{scheme}://*:{p}"));
        }

        addresses.AddRange(configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>());
        return addresses.Count > 0 ? addresses.Distinct().ToList() : ["http://localhost:5000"];
    }

    public static bool IsLoopback(string address)
    {
        var host = address;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            host = host[(scheme + 3)..];
        }

        var slash = host.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            host = host[..slash];
        }

        if (host.StartsWith('['))
        {
            host = host[1..host.IndexOf(']', StringComparison.Ordinal)];
        }
        else if (host.LastIndexOf(':') is var colon and > 0)
        {
            host = host[..colon];
        }

        return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    /// <summary>Whether <paramref name="presented"/> is the configured bearer token (compared in constant time; false when none is configured).</summary>
    public static bool IsToken(string presented, InspectorOptions options) =>
        options.BearerToken is { Length: > 0 } token && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(token));

    /// <summary>Registers the sign-in that the settings ask for (none for anonymous loopback).</summary>
    public static void Add(IServiceCollection services, InspectorOptions options)
    {
        services.AddAntiforgery();
        if (!options.OidcConfigured && !options.BearerConfigured)
        {
            services.AddAuthorization(a => a.AddPolicy(Policy, p => p.RequireAssertion(_ => true)));
            return;
        }

        var authentication = services.AddAuthentication(a =>
        {
            a.DefaultScheme = SelectScheme;
            a.DefaultChallengeScheme = SelectScheme;
        });
        authentication.AddPolicyScheme(SelectScheme, "CioSegment inspector", p => p.ForwardDefaultSelector = context =>
            options.BearerConfigured && (context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || !options.OidcConfigured || context.Request.Cookies.ContainsKey(TokenCookie))
                ? BearerScheme
                : options.OidcConfigured ? OpenIdConnectDefaults.AuthenticationScheme : BearerScheme);
        authentication.AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerScheme, _ => { });
        if (options.OidcConfigured)
        {
            authentication.AddCookie(CookieAuthenticationDefaults.AuthenticationScheme, c =>
            {
                c.Cookie.Name = "cio-inspector";
                c.Cookie.SameSite = SameSiteMode.Lax;
                c.Cookie.HttpOnly = true;
                c.ExpireTimeSpan = TimeSpan.FromHours(8);
            });
            authentication.AddOpenIdConnect(OpenIdConnectDefaults.AuthenticationScheme, o =>
            {
                o.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                o.Authority = options.Oidc.Authority;
                o.ClientId = options.Oidc.ClientId;
                o.ClientSecret = options.Oidc.ClientSecret;
                o.ResponseType = "code";
                o.UsePkce = true;
                o.RequireHttpsMetadata = options.Oidc.RequireHttpsMetadata;
                o.CallbackPath = InspectorOptions.PathBase + "/signin-oidc";
                o.Scope.Add("email");
                o.GetClaimsFromUserInfoEndpoint = true;
                o.TokenValidationParameters.NameClaimType = "email";

                // An API client cannot follow a sign-in redirect: it gets 401.
                o.Events.OnRedirectToIdentityProvider = context =>
                {
                    if (context.Request.Path.StartsWithSegments(InspectorOptions.PathBase + "/api"))
                    {
                        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                        context.HandleResponse();
                    }

                    return Task.CompletedTask;
                };
            });
        }

        services.AddAuthorization(a => a.AddPolicy(Policy, p => p.RequireAuthenticatedUser()));
    }

    /// <summary>
    /// <c>Authorization: Bearer &lt;token&gt;</c>, or the token in the sign-in cookie the pages set; compared in
    /// constant time. A page request without it is sent to the sign-in form, an API request gets 401.
    /// </summary>
    private sealed class BearerTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> schemes, ILoggerFactory loggers, UrlEncoder encoder, IOptions<InspectorOptions> inspector)
        : AuthenticationHandler<AuthenticationSchemeOptions>(schemes, loggers, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var header = Request.Headers.Authorization.ToString();
            var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : Request.Cookies[TokenCookie];
            if (string.IsNullOrEmpty(presented))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            if (!IsToken(presented, inspector.Value))
            {
                return Task.FromResult(AuthenticateResult.Fail("The bearer token is not the inspector's."));
            }

            var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "bearer-token holder")], BearerScheme);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), BearerScheme)));
        }

        protected override Task HandleChallengeAsync(AuthenticationProperties properties)
        {
            if (Request.Path.StartsWithSegments(InspectorOptions.PathBase + "/api") || !HttpMethods.IsGet(Request.Method))
            {
                Response.StatusCode = StatusCodes.Status401Unauthorized;
                Response.Headers.WWWAuthenticate = "Bearer realm=\"cio-inspector\"";
                return Task.CompletedTask;
            }

            Response.Redirect(InspectorOptions.PathBase + "/signin?returnUrl=" + Uri.EscapeDataString(Request.Path + Request.QueryString));
            return Task.CompletedTask;
        }
    }
}
