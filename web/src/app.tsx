/**
 * Routes and the signed-in guard. Every screen has its own URL (deep links work, filters live in the query string);
 * a visitor who is not signed in goes to /sign-in?next=<where they were> and comes back there after signing in.
 */
import { lazy, Suspense, useEffect } from 'react';
import { Redirect, Route, Switch, useLocation } from 'wouter';
import { whenUnauthorized } from './api.ts';
import { Layout } from './layout.tsx';
import { MeContext, useMe } from './session.tsx';
import { SignIn } from './pages/sign-in.tsx';
import { Projects } from './pages/projects.tsx';
import { useQueryClient } from '@tanstack/react-query';

const Project = lazy(() => import('./pages/project.tsx'));
const Board = lazy(() => import('./pages/board.tsx'));
const PromotionPage = lazy(() => import('./pages/promotion.tsx'));
const Approvals = lazy(() => import('./pages/approvals.tsx'));
const History = lazy(() => import('./pages/history.tsx'));
const Tokens = lazy(() => import('./pages/tokens.tsx'));
const Audit = lazy(() => import('./pages/audit.tsx'));
const ArtifactPage = lazy(() => import('./pages/artifact.tsx'));
const Compare = lazy(() => import('./pages/compare.tsx'));
const Policies = lazy(() => import('./pages/policies.tsx'));
const PolicyPage = lazy(() => import('./pages/policy.tsx'));
const Automation = lazy(() => import('./pages/automation.tsx'));
const Admin = lazy(() => import('./pages/admin.tsx'));
const Access = lazy(() => import('./pages/access.tsx'));

export function App() {
  const me = useMe();
  const [location, navigate] = useLocation();
  const qc = useQueryClient();

  useEffect(() => {
    whenUnauthorized(() => {
      qc.setQueryData(['me'], null);
    });
  }, [qc]);

  if (me.isPending) return <p className="loading">Loading…</p>;
  if (me.isError) return <p role="alert">hoist is not answering: {me.error.message}. Reload when it is back.</p>;

  if (location === '/sign-in') return <SignIn onSignedIn={(next) => navigate(next, { replace: true })} />;
  if (me.data === null) {
    const next = location + window.location.search;
    return <Redirect to={`/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }

  return (
    <MeContext.Provider value={me.data}>
      <Layout>
        <Suspense fallback={<p className="loading">Loading…</p>}>
          <Switch>
            <Route path="/">
              <Redirect to="/projects" replace />
            </Route>
            <Route path="/projects" component={Projects} />
            <Route path="/approvals" component={Approvals} />
            <Route path="/tokens" component={Tokens} />
            <Route path="/audit" component={Audit} />
            <Route path="/policies" component={Policies} />
            <Route path="/admin" component={Admin} />
            <Route path="/policies/:name">{(p) => <PolicyPage name={p.name} />}</Route>
            <Route path="/projects/:project">{(p) => <Board project={p.project} />}</Route>
            <Route path="/projects/:project/settings">{(p) => <Project project={p.project} />}</Route>
            <Route path="/projects/:project/history">{(p) => <History project={p.project} />}</Route>
            <Route path="/projects/:project/promotions/:id">
              {(p) => <PromotionPage project={p.project} id={p.id} />}
            </Route>
            <Route path="/projects/:project/apps/:app/artifacts/:digest">
              {(p) => <ArtifactPage project={p.project} app={p.app} digest={decodeURIComponent(p.digest)} />}
            </Route>
            <Route path="/projects/:project/access">{(p) => <Access project={p.project} />}</Route>
            <Route path="/projects/:project/automation">{(p) => <Automation project={p.project} />}</Route>
            <Route path="/projects/:project/apps/:app/compare">
              {(p) => <Compare project={p.project} app={p.app} />}
            </Route>
            <Route>
              <section>
                <h1>Not found</h1>
                <p>
                  There is no page at <code>{location}</code>. Go to <a href="/projects">projects</a>.
                </p>
              </section>
            </Route>
          </Switch>
        </Suspense>
      </Layout>
    </MeContext.Provider>
  );
}
