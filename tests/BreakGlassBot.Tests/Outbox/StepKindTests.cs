using BreakGlassBot.Outbox;
using BreakGlassBot.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace BreakGlassBot.Tests.Outbox;

/// <summary>The catalog of step kinds against the wiring: a kind is stored with every pending step, so each must be known and handled once.</summary>
public sealed class StepKindTests
{
    [Fact]
    public void EveryKindInTheCatalogIsDistinct() =>
        Assert.Equal(StepKinds.All.Count, StepKinds.All.Distinct(StringComparer.Ordinal).Count());

    [Fact]
    public async Task EveryRegisteredStepHandlerHasACatalogKindAndEveryKindHasExactlyOneHandler()
    {
        var directory = TestBot.NewDataDirectory();
        var app = Program.Create([$"--Storage:DataDirectory={directory}", "--urls=http://127.0.0.1:0"]);
        try
        {
            var kinds = app.Services.GetServices<IStepHandler>().Select(h => h.Kind).ToList();
            Assert.All(kinds, k => Assert.Contains(k, StepKinds.All));
            Assert.Equal(StepKinds.All.Order(), kinds.Order());
        }
        finally
        {
            await app.DisposeAsync();
            try { Directory.Delete(directory, recursive: true); } catch (IOException) { }
        }
    }
}
