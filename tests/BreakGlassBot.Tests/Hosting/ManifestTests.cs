using System.Text.Json.Nodes;
using BreakGlassBot.Tests.Support;
using Json.Schema;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace BreakGlassBot.Tests.Hosting;

[Trait("Category", "EndToEnd")]
public class ManifestTests
{
    // Slack's schema is draft-07 (its "$schema" comes last, after "definitions"): say so up front.
    static readonly BuildOptions Draft7 = new() { Dialect = Dialect.Draft07 };

    // Under src/: the repository's top level holds only manifest.yml.
    const string SocketModeManifest = "src/BreakGlassBot/manifest.socket-mode.yml";

    static JsonNode Manifest(string file = "manifest.yml")
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, file))));
        return ToJson(stream.Documents[0].RootNode)!;
    }

    // YAML 1.2 core schema: plain true/false/numbers are typed, quoted scalars stay strings (as Slack reads it).
    static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "true" } => JsonValue.Create(true),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "false" } => JsonValue.Create(false),
        YamlScalarNode { Style: ScalarStyle.Plain, Value: "null" or "~" } => null,
        YamlScalarNode { Style: ScalarStyle.Plain } s when long.TryParse(s.Value, out var n) => JsonValue.Create(n),
        YamlScalarNode s => JsonValue.Create(s.Value),
        _ => throw new InvalidDataException("unsupported YAML node " + node.NodeType),
    };

    [Theory]
    [InlineData("manifest.yml")]
    [InlineData(SocketModeManifest)]
    public void TheManifestIsValidAgainstSlacksSchema(string file)
    {
        var schemaJson = Fixtures.Object("slack/manifest.schema.1.0.0.json");
        var schema = JsonSchema.FromText(schemaJson.ToJsonString(), Draft7);
        var result = schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(Manifest(file)), new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, string.Join("\n", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }

    [Fact]
    public void TheMessagesTabIsOnSoDirectMessagesAreAccepted()
    {
        var home = Manifest()["features"]!["app_home"]!;
        Assert.True(home["messages_tab_enabled"]!.GetValue<bool>());
        // Users read the bot's DMs; they talk to it with /breakglass.
        Assert.True(home["messages_tab_read_only_enabled"]!.GetValue<bool>());
    }

    [Fact]
    public void TheHomeTabIsOnAndItsOpeningIsDelivered()
    {
        var manifest = Manifest();
        Assert.True(manifest["features"]!["app_home"]!["home_tab_enabled"]!.GetValue<bool>());
        Assert.Contains("app_home_opened", manifest["settings"]!["event_subscriptions"]!["bot_events"]!.AsArray().Select(e => e!.GetValue<string>()));
    }

    [Fact]
    public void NoScopeIsAskedForThatNothingUses()
    {
        // A SOC 2 reviewer asks about every scope. users:read is for users.info (guests may not declare) and bots.info (the app
        // id); users:read.email for users.lookupByEmail (the SSO directory).
        var scopes = Manifest()["oauth_config"]!["scopes"]!["bot"]!.AsArray().Select(s => s!.GetValue<string>()).ToList();
        var userMethods = typeof(BreakGlassBot.Slack.ISlackApi).GetMethods()
            .Where(m => m.Name.Contains("User", StringComparison.Ordinal) && !m.Name.Contains("UserGroup", StringComparison.Ordinal)).Select(m => m.Name).Order();
        Assert.Equal(["LookupUserByEmailAsync", "UserInfoAsync"], userMethods);
        Assert.Contains("users:read.email", scopes);
        Assert.Contains("users:read", scopes);
    }

    [Fact]
    public void TheSocketModeManifestIsTheHttpOneWithSocketModeOnAndNoRequestUrls()
    {
        // Slack: with Socket Mode on, the app settings neither need nor allow a Request URL; everything else is the same app.
        var http = Manifest();
        Assert.False(http["settings"]!["socket_mode_enabled"]!.GetValue<bool>());
        http["features"]!["slash_commands"]![0]!.AsObject().Remove("url");
        http["settings"]!["event_subscriptions"]!.AsObject().Remove("request_url");
        http["settings"]!["interactivity"]!.AsObject().Remove("request_url");
        http["settings"]!["socket_mode_enabled"] = true;
        var socket = Manifest(SocketModeManifest);
        Assert.True(JsonNode.DeepEquals(http, socket), $"expected\n{http.ToJsonString()}\nbut the Socket Mode manifest is\n{socket.ToJsonString()}");
    }

    [Fact]
    public void TheSchemaCheckCanFail()
    {
        var schemaJson = Fixtures.Object("slack/manifest.schema.1.0.0.json");
        var broken = Manifest();
        broken["settings"]!["interactivity"]!["is_enabled"] = "yes please";
        Assert.False(JsonSchema.FromText(schemaJson.ToJsonString(), Draft7).Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(broken)).IsValid);
    }

    [Fact]
    public async Task TheManifestsUrlsAndCommandMatchTheBotsRoutes()
    {
        var manifest = Manifest();
        var command = manifest["features"]!["slash_commands"]![0]!;
        Assert.Equal("/breakglass", command["command"]!.GetValue<string>());
        var urls = new[]
        {
            command["url"]!.GetValue<string>(),
            manifest["settings"]!["interactivity"]!["request_url"]!.GetValue<string>(),
            manifest["settings"]!["event_subscriptions"]!["request_url"]!.GetValue<string>(),
        }.Select(u => new Uri(u).AbsolutePath).ToList();
        Assert.Equal(["/slack/commands", "/slack/interactions", "/slack/events"], urls);

        await using var slack = new FakeSlack();
        await slack.StartAsync();
        await using var bot = await TestBot.StartAsync(slack);
        var routes = bot.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/')).ToHashSet();
        Assert.All(urls, u => Assert.Contains(u, routes));
        Assert.Contains("message.channels", manifest["settings"]!["event_subscriptions"]!["bot_events"]!.AsArray().Select(e => e!.GetValue<string>()));
    }
}
