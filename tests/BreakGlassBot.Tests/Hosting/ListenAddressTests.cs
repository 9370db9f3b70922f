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
