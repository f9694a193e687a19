// The route table: one entry per page. To add a page, import it here and add a line;
// `nav` puts it in the menu (group "settings" goes under Settings). Pages are lazy-loaded
// except the dashboard, so the first screen downloads as little as possible.
import { lazy, type Component } from "solid-js";
import Dashboard from "./pages/Dashboard";

export interface Route {
  path: string;
  title: string;
  component: Component;
  nav?: "main" | "settings";
  /** Shown without signing in (the setup and login pages). */
  public?: boolean;
}

export const routes: Route[] = [
  { path: "/", title: "Dashboard", component: Dashboard, nav: "main" },
  { path: "/storage", title: "Storage", component: lazy(() => import("./pages/Storage")), nav: "main" },
  { path: "/ceph", title: "Ceph", component: lazy(() => import("./pages/Ceph")), nav: "main" },
  { path: "/backups", title: "Backups", component: lazy(() => import("./pages/Backups")), nav: "main" },
  { path: "/pbs", title: "PBS", component: lazy(() => import("./pages/Servers").then((m) => ({ default: m.Pbs }))), nav: "main" },
  { path: "/pmg", title: "PMG", component: lazy(() => import("./pages/Servers").then((m) => ({ default: m.Pmg }))), nav: "main" },
  { path: "/alerts", title: "Alerts", component: lazy(() => import("./pages/Alerts")), nav: "main" },
  { path: "/settings/nodes", title: "Nodes", component: lazy(() => import("./pages/SettingsNodes")), nav: "settings" },
  { path: "/settings/alerts", title: "Alerts", component: lazy(() => import("./pages/SettingsAlerts")), nav: "settings" },
  { path: "/settings/security", title: "Security", component: lazy(() => import("./pages/SettingsSecurity")), nav: "settings" },
  { path: "/settings/system", title: "System", component: lazy(() => import("./pages/SettingsSystem")), nav: "settings" },
  { path: "/settings/notifications", title: "Notifications", component: lazy(() => import("./pages/SettingsNotifications")), nav: "settings" },
  { path: "/login", title: "Sign in", component: lazy(() => import("./pages/Login")), public: true },
  { path: "/setup", title: "Setup", component: lazy(() => import("./pages/Setup")), public: true },
];
