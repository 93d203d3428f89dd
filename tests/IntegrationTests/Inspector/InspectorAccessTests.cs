using System.Net;
using System.Net.Http.Headers;
using CioSegment.DevDoubles.Kafka;
using CioSegment.DevHost;
using CioSegment.Inspector;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CioSegment.IntegrationTests.Inspector;

/// <summary>The inspector as its own service on a non-loopback address: it refuses to start without sign-in, and with a bearer token it answers only requests that carry it.</summary>
public sealed class InspectorAccessTests
{
    private const string Token = "a-bearer-token-of-at-least-32-characters";

    [Fact]
    public void On_all_addresses_without_sign_in_it_refuses_to_start()
    {
        var refusal = Assert.Throws<InvalidOperationException>(() => Build("--urls", "http://0.0.0.0:0", "--CioSegment:Inspector:AllowAnonymousOnLoopback=true"));
        Assert.Contains("http://0.0.0.0:0", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("BearerToken", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_all_addresses_with_a_bearer_token_the_api_and_pages_need_it()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var broker = EmbeddedKafkaBroker.Start();
        broker.CreatePipelineTopics(2);
        var directory = Path.Combine(Path.GetTempPath(), "cio-inspector-" + Guid.NewGuid().ToString("N"));
        await using var app = Build("--urls", "http://0.0.0.0:0", $"--CioSegment:Inspector:BearerToken={Token}", $"--CioSegment:Kafka:BootstrapServers={broker.BootstrapServers}",
            "--CioSegment:SchemaRegistry:Url=http://127.0.0.1:9", $"--CioSegment:Inspector:DatabasePath={Path.Combine(directory, "index.db")}");
        await app.StartAsync(cancel);
        try
        {
            var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

            var anonymous = await http.GetAsync("/inspector/api/events?q=someone", cancel);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.Single().Scheme);

            using var wrong = new HttpRequestMessage(HttpMethod.Get, "/inspector/api/events?q=someone") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token + "x") } };
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong, cancel)).StatusCode);

            using var right = new HttpRequestMessage(HttpMethod.Get, "/inspector/api/events?q=someone") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } };
            var answer = await http.SendAsync(right, cancel);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("""{"events":[]}""", await answer.Content.ReadAsStringAsync(cancel));

            // A page sends the browser to the sign-in form; the token it posts opens the pages through a cookie.
            var page = await http.GetAsync("/inspector/dead-letters", cancel);
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.StartsWith("/inspector/signin", page.Headers.Location!.OriginalString, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/inspector/signin", new FormUrlEncodedContent([new("token", "guess")]), cancel)).StatusCode);
            var signIn = await http.PostAsync("/inspector/signin", new FormUrlEncodedContent([new("token", Token), new("returnUrl", "/inspector/dead-letters")]), cancel);
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
            var cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith(InspectorAccessCookie, StringComparison.Ordinal));
            Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
            using var withCookie = new HttpRequestMessage(HttpMethod.Get, "/inspector/dead-letters") { Headers = { { "Cookie", cookie.Split(';')[0] } } };
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(withCookie, cancel)).StatusCode);
        }
        finally
        {
            await app.StopAsync(cancel);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task With_OpenID_Connect_a_page_sends_the_browser_to_the_identity_provider_and_the_api_answers_401()
    {
        var cancel = TestContext.Current.CancellationToken;
        using var broker = EmbeddedKafkaBroker.Start();
        broker.CreatePipelineTopics(1);

        // The identity provider's discovery document is all the handler reads before the first sign-in.
        var provider = WebApplication.CreateBuilder();
        provider.WebHost.UseUrls("http://127.0.0.1:0");
        await using var identity = provider.Build();
        var issuer = "";
        identity.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = issuer,
            ["authorization_endpoint"] = issuer + "/authorize",
            ["token_endpoint"] = issuer + "/token",
            ["jwks_uri"] = issuer + "/jwks",
            ["response_types_supported"] = new[] { "code" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        identity.MapGet("/jwks", () => Results.Json(new { keys = Array.Empty<object>() }));
        await identity.StartAsync(cancel);
        issuer = identity.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var directory = Path.Combine(Path.GetTempPath(), "cio-inspector-" + Guid.NewGuid().ToString("N"));
        await using var app = Build("--urls", "http://0.0.0.0:0", $"--CioSegment:Inspector:Oidc:Authority={issuer}", "--CioSegment:Inspector:Oidc:ClientId=cio-inspector",
            "--CioSegment:Inspector:Oidc:ClientSecret=an-oidc-client-secret", "--CioSegment:Inspector:Oidc:RequireHttpsMetadata=false",
            $"--CioSegment:Kafka:BootstrapServers={broker.BootstrapServers}", "--CioSegment:SchemaRegistry:Url=http://127.0.0.1:9", $"--CioSegment:Inspector:DatabasePath={Path.Combine(directory, "index.db")}");
        await app.StartAsync(cancel);
        try
        {
            var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

            var page = await http.GetAsync("/inspector/?q=someone", cancel);
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            var location = page.Headers.Location!.ToString();
            Assert.StartsWith(issuer + "/authorize?", location, StringComparison.Ordinal);
            Assert.Contains("client_id=cio-inspector", location, StringComparison.Ordinal);
            Assert.Contains("response_type=code", location, StringComparison.Ordinal);
            Assert.Contains("code_challenge=", location, StringComparison.Ordinal);
            Assert.Contains(Uri.EscapeDataString($"http://127.0.0.1:{port}/inspector/signin-oidc"), location, StringComparison.Ordinal);
            Assert.DoesNotContain("an-oidc-client-secret", location, StringComparison.Ordinal);

            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/inspector/api/events?q=someone", cancel)).StatusCode);
        }
        finally
        {
            await app.StopAsync(cancel);
            await identity.StopAsync(cancel);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private const string InspectorAccessCookie = CioSegment.Inspector.Web.InspectorAccess.TokenCookie + "=";

    private static WebApplication Build(params string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddInspector();
        var app = builder.Build();
        app.MapInspector();
        return app;
    }
}
