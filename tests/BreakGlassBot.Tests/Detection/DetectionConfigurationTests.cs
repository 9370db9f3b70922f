using BreakGlassBot.Hosting;
using Microsoft.Extensions.Configuration;

namespace BreakGlassBot.Tests.Detection;

public sealed class DetectionConfigurationTests
{
    static IReadOnlyList<string> Errors(params (string Key, string Value)[] settings) =>
        ConfigurationCheck.Validate(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [Fact]
    public void EveryBadDetectionKeyIsNamedAtOnce()
    {
        var errors = Errors(("Detection:SweepCron", "every night"), ("Detection:GracePeriod", "-00:01:00"), ("Detection:Branches:0", "refs/heads/main"),
            ("Detection:SweepWindow", "00:10:00"), ("Detection:RuleSuitesInterval", "1.00:00:00"), ("Detection:Enabled", "maybe"));
        Assert.Contains(errors, e => e.StartsWith("Detection:SweepCron"));
        Assert.Contains(errors, e => e.StartsWith("Detection:GracePeriod"));
        Assert.Contains(errors, e => e.StartsWith("Detection:Branches") && e.Contains("write main"));
        Assert.Contains(errors, e => e.StartsWith("Detection:SweepWindow"));
        Assert.Contains(errors, e => e.StartsWith("Detection:RuleSuitesInterval"));
        Assert.Contains(errors, e => e.Contains("Detection:Enabled"));
    }

    [Fact]
    public void TheDefaultsAreValid() =>
        Assert.DoesNotContain(Errors(("Detection:Enabled", "true")), e => e.Contains("Detection"));
}
