import { useEffect, useState } from "react";
import { getTokens, onTokens } from "./api/client";
import { navigate, usePath } from "./router";
import { LoginPage } from "./pages/login/LoginPage";
import { SignupPage } from "./pages/signup/SignupPage";
import { FlowsPage } from "./pages/flows/FlowsPage";
import { EditorPage } from "./pages/editor/EditorPage";
import { TemplatesPage } from "./pages/templates/TemplatesPage";
import { TemplateFormPage } from "./pages/templates/TemplateFormPage";
import { CampaignsPage } from "./pages/campaigns/CampaignsPage";
import { CampaignFormPage } from "./pages/campaigns/CampaignFormPage";
import { CampaignPage } from "./pages/campaigns/CampaignPage";
import { AnalyticsPage } from "./pages/analytics/AnalyticsPage";
import { InboxPage } from "./pages/inbox/InboxPage";
import { LogsPage } from "./pages/logs/LogsPage";

const PUBLIC = new Set(["/app/login", "/app/signup"]);

export function App() {
  const path = usePath();
  const [signedIn, setSignedIn] = useState(() => getTokens() !== null);
  useEffect(() => onTokens(() => setSignedIn(getTokens() !== null)), []);

  useEffect(() => {
    if (!signedIn && !PUBLIC.has(path)) navigate("/app/login", true);
    else if (signedIn && (PUBLIC.has(path) || path === "/" || path === "/app" || path === "/app/"))
      navigate("/app/flows", true);
  }, [signedIn, path]);

  if (path === "/app/login") return <LoginPage />;
  if (path === "/app/signup") return <SignupPage />;
  if (!signedIn) return null;
  if (path === "/app/inbox") return <InboxPage />;
  if (path === "/app/templates") return <TemplatesPage />;
  if (path === "/app/templates/new") return <TemplateFormPage />;
  if (path === "/app/analytics") return <AnalyticsPage />;
  if (path === "/app/logs") return <LogsPage />;
  if (path === "/app/campaigns") return <CampaignsPage />;
  if (path === "/app/campaigns/new") return <CampaignFormPage />;
  const campaign = path.match(/^\/app\/campaigns\/([^/]+)$/);
  if (campaign) return <CampaignPage key={campaign[1]} campaignId={campaign[1]} />;
  const editor = path.match(/^\/app\/flows\/([^/]+)$/);
  if (editor) return <EditorPage flowId={editor[1]} />;
  return <FlowsPage />;
}
