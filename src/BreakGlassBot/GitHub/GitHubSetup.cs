using System.Net;
using BreakGlassBot.Declaring;
using BreakGlassBot.Hosting;
using BreakGlassBot.Reviewing;
using BreakGlassBot.Slack;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Timeout;
using BreakGlassBot.Outbox;

namespace BreakGlassBot.GitHub;

public static class GitHubSetup
{
    public static WebApplicationBuilder AddGitHub(this WebApplicationBuilder builder)
    {
        var s = builder.Services;
        s.AddSingleton<GitHubHttpSettings>();
        s.AddSingleton<WebhookReadGate>();
        s.AddHttpClient(GitHubGateway.HttpClientName)
            .AddResilienceHandler("github", (pipeline, context) =>
            {
                // Only reads are retried in place, and only when GitHub did not answer or failed on its side. Writes,
                // rate limits (429/403, with their wait) and refusals go back to the outbox, which reschedules.
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 2,
                    Delay = TimeSpan.FromMilliseconds(200),
                    BackoffType = DelayBackoffType.Exponential,
                    ShouldRetryAfterHeader = false,
                    ShouldHandle = args => ValueTask.FromResult(args.Context.GetRequestMessage()?.Method == HttpMethod.Get
                        && (args.Outcome.Exception is HttpRequestException or TimeoutRejectedException
                            || args.Outcome.Result?.StatusCode is HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway
                                or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.RequestTimeout)),
                });
                pipeline.AddTimeout(context.ServiceProvider.GetRequiredService<GitHubHttpSettings>().AttemptTimeout);
            });
        s.AddSingleton<IGitHubCredentials>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<GitHubOptions>>().Value;
            return o.AppId is not null && !string.IsNullOrWhiteSpace(o.PrivateKeyPath) && o.InstallationId is not null
                ? new GitHubAppCredentials(o, sp.GetRequiredService<IHttpMessageHandlerFactory>(), sp.GetRequiredService<TimeProvider>())
                : new TokenCredentials(o.Token ?? "");
        });
        s.AddSingleton<IGitHubGateway, GitHubGateway>();

        s.AddSingleton<IDeclarationStepSource, GitHubDeclarationSteps>();
        s.AddSingleton<IStepHandler, PullRequestStep>();
        s.AddSingleton<IStepHandler, BypassGrantStep>();
        s.AddSingleton<IStepHandler, BypassRevokeStep>();
        s.AddSingleton<IStepHandler, MergeButtonStep>();
        s.AddSingleton<IStepHandler, MergeStep>();
        s.AddSingleton<MergeScope>();
        s.AddSingleton<ILinkCheck>(sp => sp.GetRequiredService<MergeScope>());
        s.AddSingleton<IStepHandler, ApprovalCommentStep>();
        s.AddSingleton<IThreadNoteSource, GitHubNotes>();
        s.AddSingleton<BypassNotes>();
        s.AddSingleton<IThreadNoteSource>(sp => sp.GetRequiredService<BypassNotes>());
        s.AddSingleton<IDirectMessageSource>(sp => sp.GetRequiredService<BypassNotes>());
        s.AddSingleton<IChangeCancellation, EndBypassOnCancel>();
        s.AddSingleton<IReviewCompletion, EndBypassOnReview>();
        s.AddSingleton<IThreadNoteSource, ReopenedNote>();

        s.AddSingleton<MergeRequests>();
        // "merge" is a sub-command word only in MergeByBot mode; elsewhere "/breakglass merge revert ..." is a declaration.
        if (Enum.TryParse<BypassMode>(builder.Configuration[$"{GitHubOptions.Section}:{nameof(GitHubOptions.BypassMode)}"], ignoreCase: true, out var mode)
            && mode == BypassMode.MergeByBot)
            s.AddSingleton<ISubCommand, MergeCommand>();
        s.AddSingleton<IAccountLink, LinkGitHubCommand>();
        // Verified identities: the device flow's own client (no retries: a poll is retried by the poller, on GitHub's interval).
        s.AddHttpClient(GitHubIdentityClient.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(10));
        s.AddSingleton<GitHubIdentityClient>();
        s.AddSingleton<IdentityLinks>();
        s.AddSingleton<DeviceFlowPoller>();
        s.AddHostedService(sp => sp.GetRequiredService<DeviceFlowPoller>());
        s.AddHostedService<AdminLoginResolver>();
        s.AddSsoDirectory(); // GitHub:SsoDirectory: off unless an organisation is named
        s.AddSingleton<ISubCommand, UnlinkCommand>();
        s.AddSingleton<ISubCommand, PeopleCommand>();
        s.AddSingleton<IBlockActionHandler, MergeButton>();

        s.AddSingleton<IEvidenceSource, PullRequestEvidence>();
        s.AddSingleton<IApprovalFollowUps, ApprovalMirror>();
        return builder;
    }
}
