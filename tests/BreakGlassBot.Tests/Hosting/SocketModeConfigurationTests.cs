using BreakGlassBot.Hosting;
using Microsoft.Extensions.Configuration;

namespace BreakGlassBot.Tests.Hosting;

/// <summary>What the configuration check and the start-up report say about Socket Mode's keys; never a token's value.</summary>
public class SocketModeConfigurationTests
{
    const string AppToken = "xapp-1-A0APP-1-config-secret";

    static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    static SlackOptions Slack(params (string Key, string Value)[] values) => Config(values).GetSection(SlackOptions.Section).Get<SlackOptions>() ?? new();

    [Fact]
    public void SocketModeNeedsTheAppTokenAndNoSigningSecret()
    {
        var socket = Slack(("Slack:SocketMode", "true"), ("Slack:AppToken", AppToken), ("Slack:BotToken", "xoxb-1"), ("Slack:AnnouncementChannel", "C1"));
        Assert.True(socket.IsConfigured);
        Assert.Empty(socket.MissingSettings());
        Assert.Empty(ConfigurationCheck.Validate(Config(("Slack:SocketMode", "true"), ("Slack:AppToken", AppToken))));

        var noToken = Slack(("Slack:SocketMode", "true"), ("Slack:SigningSecret", "s"), ("Slack:BotToken", "xoxb-1"), ("Slack:AnnouncementChannel", "C1"));
        Assert.False(noToken.IsConfigured);
        var missing = Assert.Single(noToken.MissingSettings());
        Assert.StartsWith("Slack:AppToken", missing);
        Assert.Contains("connections:write", missing);

        // Over HTTP it is the signing secret that is missing, as before.
        var http = Slack(("Slack:BotToken", "xoxb-1"), ("Slack:AnnouncementChannel", "C1"));
        Assert.StartsWith("Slack:SigningSecret", Assert.Single(http.MissingSettings()));
    }

    [Fact]
    public void AnAppTokenWithoutSocketModeOrNotAnAppTokenIsNamed()
    {
        var errors = ConfigurationCheck.Validate(Config(("Slack:AppToken", AppToken)));
        Assert.Contains(errors, e => e.StartsWith("Slack:AppToken is set but Slack:SocketMode is false"));

        errors = ConfigurationCheck.Validate(Config(("Slack:SocketMode", "true"), ("Slack:AppToken", "xoxb-the-bot-token-by-mistake")));
        var error = Assert.Single(errors);
        Assert.Contains("xapp-", error);
        Assert.DoesNotContain("the-bot-token-by-mistake", error);
    }

    [Fact]
    public void SocketSettingsThatCannotWorkAreRefused()
    {
        var errors = ConfigurationCheck.Validate(Config(("Slack:SocketMode", "true"), ("Slack:AppToken", AppToken),
            ("Slack:SocketConnections", "11"), ("Slack:SocketKeepAliveTimeout", "00:00:00"), ("Slack:SocketHelloTimeout", "00:00:00"),
            ("Slack:SocketReconnectDelay", "00:00:02"), ("Slack:SocketMaxReconnectDelay", "00:00:01"), ("Slack:SocketStagger", "soon")));
        Assert.Contains(errors, e => e.StartsWith("Slack:SocketConnections") && e.Contains("10"));
        Assert.Contains(errors, e => e.StartsWith("Slack:SocketKeepAliveTimeout"));
        Assert.Contains(errors, e => e.StartsWith("Slack:SocketHelloTimeout"));
        Assert.Contains(errors, e => e.StartsWith("Slack:SocketMaxReconnectDelay"));
        Assert.Contains(errors, e => e.StartsWith("Slack:SocketStagger") && e.Contains("TimeSpan"));
        Assert.Equal(5, errors.Count);
    }
}
