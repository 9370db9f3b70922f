using System.Net;
using BreakGlassBot.Declaring;
using BreakGlassBot.Reviewing;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using BreakGlassBot.Hosting;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.Jira;

public static class JiraRegistration
{
    /// <summary>
    /// The Jira client, steps, review evidence and thread notes; registered even when Jira is not configured, so steps
    /// left by an earlier configuration give up clearly instead of being unknown to the outbox.
    /// </summary>
    public static WebApplicationBuilder AddJira(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddHttpClient<IJiraApi, JiraClient>((sp, http) =>
            {
                var url = sp.GetRequiredService<IOptions<JiraOptions>>().Value.BaseUrl;
                if (!string.IsNullOrWhiteSpace(url)) http.BaseAddress = new Uri(url.TrimEnd('/') + "/");
                http.Timeout = Timeout.InfiniteTimeSpan; // the resilience pipeline times each attempt
            })
            .AddResilienceHandler("jira", pipeline =>
            {
                // Retried in place only when Jira says how long to wait and that is short: a longer Retry-After
                // surfaces as JiraApiException.RetryAfter and the outbox reschedules the step instead of holding a worker.
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 2,
                    ShouldRetryAfterHeader = true,
                    Delay = TimeSpan.FromSeconds(1),
                    // A 503 may come after the work was done: a POST (create, comment) goes back to its step, which looks first.
                    ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { StatusCode: HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable } r
                        && (r.StatusCode == HttpStatusCode.TooManyRequests || r.RequestMessage?.Method != HttpMethod.Post)
                        && JiraClient.RetryAfterOf(r) is { } after && after <= TimeSpan.FromSeconds(3)),
                });
                pipeline.AddTimeout(TimeSpan.FromSeconds(10));
            });
        s.AddOptions<JiraCreateOptions>().BindConfiguration(JiraOptions.Section);
        s.AddSingleton<IDeclarationStepSource, JiraDeclarationSteps>();
        s.AddSingleton<IStepHandler, JiraLinkStep>();
        s.AddSingleton<IStepHandler, JiraCreateStep>();
        s.AddSingleton<IStepHandler, JiraApprovalStep>();
        s.AddSingleton<IThreadNoteSource, JiraNotes>();
        s.AddSingleton<IEvidenceSource, JiraReviewEvidence>();
        s.AddSingleton<IApprovalFollowUps, JiraApprovalFollowUps>();
        return builder;
    }
}
