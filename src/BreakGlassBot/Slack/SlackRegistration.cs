using System.Net;
using BreakGlassBot.Hosting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace BreakGlassBot.Slack;

public static class SlackRegistration
{
    public static WebApplicationBuilder AddSlack(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SlackRequestFilter>();
        builder.Services.AddSingleton<SlackRequestsInFlight>();
        builder.Services.AddSingleton<SlackTenant>();
        builder.Services.AddSingleton<ISlackOriginCheck>(sp => sp.GetRequiredService<SlackTenant>());
        builder.Services.AddHostedService<SlackTenantWarmUp>();
        builder.Services.AddHttpClient<ISlackApi, SlackApiClient>((sp, http) =>
            {
                var url = sp.GetRequiredService<IOptions<SlackOptions>>().Value.ApiBaseUrl;
                http.BaseAddress = new Uri(url.EndsWith('/') ? url : url + "/");
                http.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline times each attempt
            })
            .AddResilienceHandler("slack", pipeline =>
            {
                // Only 429 is retried in place, and only for a short Retry-After: Slack did not act on the request.
                // Anything else (a timeout may mean the message was posted) goes back to the outbox, which checks first.
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 2,
                    ShouldRetryAfterHeader = true,
                    Delay = TimeSpan.FromSeconds(1),
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { StatusCode: HttpStatusCode.TooManyRequests } r
                        && (SlackApiClient.RetryAfterOf(r) ?? TimeSpan.Zero) <= TimeSpan.FromSeconds(3)),
                });
                pipeline.AddTimeout(TimeSpan.FromSeconds(10));
            });
        AddSocketMode(builder.Services);
        return builder;
    }

    // Always registered: the runner returns at once unless Slack:SocketMode is on, and /healthz reads the status either way.
    static void AddSocketMode(IServiceCollection s)
    {
        s.AddSingleton<SocketModeStatus>();
        s.AddSingleton<SocketUrlSource>();
        s.AddHostedService<SocketModeRunner>();
        s.AddHttpClient(SocketUrlSource.ClientName, (sp, http) =>
        {
            var url = sp.GetRequiredService<IOptions<SlackOptions>>().Value.ApiBaseUrl;
            http.BaseAddress = new Uri(url.EndsWith('/') ? url : url + "/");
            http.Timeout = TimeSpan.FromSeconds(10);
        });
    }
}
