using System.Net;
using BreakGlassBot.Hosting;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace BreakGlassBot.Tests.Hosting;

/// <summary>Where the bot listens is ASP.NET Core's own business: the variables every container platform sets must work.</summary>
[Trait("Category", "EndToEnd")]
public sealed class ListenAddressTests : IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly string dataDirectory = TestBot.NewDataDirectory();

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
    }

    public static TheoryData<string> Ways() => ["ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "DOTNET_URLS", "Urls"];

    [Theory]
    [MemberData(nameof(Ways))]
    public async Task TheBuiltBotServesHealthOnThePortItsHostingSettingNames(string variable)
    {
        // The environment (not --urls) names the port; appsettings.json must not pin another one over it.
        await using var bot = await BotProcess.StartAsync(slack, dataDirectory, listen: port => new Dictionary<string, string>
        {
            [variable] = variable.EndsWith("PORTS", StringComparison.Ordinal) ? port.ToString() : $"http://127.0.0.1:{port}",
        });
        var health = await bot.Http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}

/// <summary>The published bot (dotnet publish), started as an operator would: only the hosting setting names where it listens.</summary>
[Trait("Category", "EndToEnd")]
public sealed class PublishedBotListenTests(PublishedBot published) : IClassFixture<PublishedBot>, IAsyncLifetime
{
    readonly FakeSlack slack = new();
    readonly string dataDirectory = TestBot.NewDataDirectory();

    public Task InitializeAsync() => slack.StartAsync();

    public async Task DisposeAsync()
    {
        await slack.DisposeAsync();
        try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
    }

    [Theory]
    [InlineData("ASPNETCORE_URLS")]
    [InlineData("ASPNETCORE_HTTP_PORTS")]
    [InlineData("--urls")]
    [InlineData("Urls")]
    public async Task ThePublishedBotServesHealthWhereItsHostingSettingSays(string way)
    {
        // BotProcess passes --urls itself when no environment variable names the port.
        Func<int, IDictionary<string, string>>? listen = way switch
        {
            "--urls" => null,
            "ASPNETCORE_HTTP_PORTS" => port => new Dictionary<string, string> { [way] = port.ToString() },
            _ => port => new Dictionary<string, string> { [way] = $"http://127.0.0.1:{port}" },
        };
        await using var bot = await BotProcess.StartAsync(slack, dataDirectory, listen: listen, appDirectory: published.Directory);
        Assert.Equal(HttpStatusCode.OK, (await bot.Http.GetAsync("/healthz")).StatusCode);
        Assert.DoesNotContain(bot.Output, line => line.Contains("127.0.0.1:5080", StringComparison.Ordinal));
    }
}

/// <summary>The loopback default applies only when no hosting setting names an address.</summary>
public sealed class ListenDefaultTests
{
    [Theory]
    [InlineData(null, null, null, true)]
    [InlineData("http://+:8080", null, null, false)]
    [InlineData(null, "8080", null, false)]
    [InlineData(null, null, "8443", false)]
    [InlineData(" ", null, null, true)]
    public void TheDefaultAppliesOnlyWhenNothingIsSet(string? urls, string? httpPorts, string? httpsPorts, bool applies)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = urls, ["http_ports"] = httpPorts, ["https_ports"] = httpsPorts,
        }).Build();
        Assert.Equal(applies, HostingExtensions.ListenDefaultApplies(config));
    }

    [Fact]
    public void AppsettingsDoesNotPinAnAddress()
    {
        var settings = File.ReadAllText(Path.Combine(Fixtures.RepositoryRoot, "appsettings.json"));
        Assert.DoesNotContain("\"Urls\"", settings, StringComparison.OrdinalIgnoreCase);
    }
}
